"""Merging a measures table (CSV) into a plan: kept fields, clear errors, the separator."""

import pytest

from models.csvimport import merge_measures_csv
from models.db import session_scope
from models.exporter import export_plan
from models.importer import import_path
from models.planfile import PlanFile, PlanFileError, read_plan_file
from tests.conftest import BUNDLED_PLAN


@pytest.fixture(scope="module")
def plan() -> PlanFile:
    return read_plan_file(BUNDLED_PLAN)


def merge(plan: PlanFile, tmp_path, text: str, name: str = "tiltak.csv") -> PlanFile:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return merge_measures_csv(plan, path)


def refused(plan: PlanFile, tmp_path, text: str, name: str = "tiltak.csv") -> str:
    with pytest.raises(PlanFileError) as caught:
        merge(plan, tmp_path, text, name)
    return str(caught.value)


def measure(pf: PlanFile, number: int):
    return next(m for m in pf.measures if m.number == number)


def test_a_table_without_a_responsible_column_keeps_lead_and_shared(plan, tmp_path):
    merged = merge(plan, tmp_path, "nr;tittel\n2;Bare tittel endret\n")
    m = measure(merged, 2)
    assert (m.title, m.lead, m.shared) == ("Bare tittel endret", "KMD", ["HOD"])


def test_an_empty_responsible_cell_clears_lead_and_shared(plan, tmp_path):
    merged = merge(plan, tmp_path, "nr;tittel;ansvarlig;kilde\n2;Bare tittel endret;;\n3;T\n")
    assert (measure(merged, 2).lead, measure(merged, 2).shared) == (None, [])
    assert measure(merged, 3).lead is None  # a short row leaves the cell empty too
    assert measure(merged, 2).source == measure(plan, 2).source  # other empty cells keep


def test_a_responsible_cell_naming_an_organisation_twice_is_refused_with_its_line(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel;ansvarlig\n2;T;HOD/HOD\n3;T;KMD/HOD og HOD\n")
    assert len(message.splitlines()) == 2
    assert "tiltak.csv:2: responsible: 'HOD' is already the lead" in message
    assert "tiltak.csv:3: responsible: 'HOD' is listed twice in shared" in message


def test_a_filled_responsible_cell_still_replaces_lead_and_shared(plan, tmp_path):
    merged = merge(plan, tmp_path, "nr;tittel;ansvarlig\n2;Tittel;HOD\n")
    assert (measure(merged, 2).lead, measure(merged, 2).shared) == ("HOD", [])


def test_importing_a_title_only_table_changes_no_responsibility(engine, tmp_path):
    with session_scope() as session:
        import_path(session, str(BUNDLED_PLAN))
    path = tmp_path / "tiltak.csv"
    path.write_text("nr;tittel\n2;Bare tittel endret\n", encoding="utf-8")
    with session_scope() as session:
        result = import_path(session, str(path))
    assert {c.field for c in result.changes} == {"title"}
    with session_scope() as session:
        m = measure(export_plan(session), 2)
    assert (m.title, m.lead, m.shared) == ("Bare tittel endret", "KMD", ["HOD"])


def test_importing_an_empty_responsible_cell_clears_and_logs_it(engine, tmp_path):
    with session_scope() as session:
        import_path(session, str(BUNDLED_PLAN))
    path = tmp_path / "tiltak.csv"
    title = measure(read_plan_file(BUNDLED_PLAN), 2).title
    path.write_text(f"nr;tittel;ansvarlig\n2;{title};\n", encoding="utf-8")
    with session_scope() as session:
        result = import_path(session, str(path))
    assert {(c.field, c.old_value, c.new_value) for c in result.changes} == {
        ("lead", "KMD", None),
        ("shared", "HOD", None),
    }
    with session_scope() as session:
        m = measure(export_plan(session), 2)
    assert (m.lead, m.shared) == (None, [])


def test_a_validation_error_shows_the_field_and_message_not_a_link(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel;ansvarlig\n0;Null;KMD\n", "zero.csv")
    assert "pydantic.dev" not in message
    assert "zero.csv:2: measure 0: number: Input should be greater than or equal to 1" in message


def test_a_new_measure_without_a_title_says_the_title_is_missing(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel\n99;\n")
    assert "tiltak.csv:2: measure 99: title: required field is missing" in message


def test_a_comma_inside_a_header_does_not_make_comma_the_separator(plan, tmp_path):
    merged = merge(plan, tmp_path, "nr;tittel;merknad, intern\n2;Ny tittel;Ja, se notat\n")
    assert measure(merged, 2).title == "Ny tittel"


def test_a_quoted_comma_in_the_header_does_not_make_comma_the_separator(plan, tmp_path):
    merged = merge(
        plan,
        tmp_path,
        '"nr";"tittel";"merknad, intern"\n2;"Ny tittel, med komma";Ja, se notat\n',
    )
    assert measure(merged, 2).title == "Ny tittel, med komma"


def test_an_unknown_header_with_a_comma_is_reported_with_its_columns(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel, kort;ansvarlig\n2;Tittel;KMD\n")
    assert "tiltak.csv:1: the header needs columns for title" in message
    assert "found: nr, tittel, kort, ansvarlig" in message


@pytest.mark.parametrize("separator", [";", ",", "\t"])
def test_each_documented_separator_is_detected(plan, tmp_path, separator):
    text = separator.join(["nr", "tittel", "ansvarlig"]) + "\n"
    text += separator.join(["2", "Tittel", "HOD/KMD"]) + "\n"
    m = measure(merge(plan, tmp_path, text), 2)
    assert (m.title, m.lead, m.shared) == ("Tittel", "HOD", ["KMD"])


def test_a_header_without_a_separator_is_a_clear_error(plan, tmp_path):
    message = refused(plan, tmp_path, "nr\n2\n")
    assert "tiltak.csv:1: the header needs columns for title" in message


def test_a_broken_csv_row_is_a_clear_error_with_its_line(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel\n2;Tittel\n3;" + "x" * 200_000 + "\n")
    assert "tiltak.csv:3: not a readable CSV row: field larger than field limit" in message


def test_a_missing_file_is_a_clear_error(plan, tmp_path):
    path = tmp_path / "finnes-ikke.csv"
    with pytest.raises(PlanFileError) as caught:
        merge_measures_csv(plan, path)
    assert str(caught.value) == f"{path}: cannot read the file: No such file or directory"


def test_a_measure_number_twice_is_refused_naming_both_lines(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel\n2;Første\n3;Annen\n2;Tredje\n")
    assert "tiltak.csv:4: number: measure 2 appears twice (lines 2 and 4)" in message


def test_line_numbers_count_blank_lines(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel\n\n2;A\n\nx;B\n")
    assert "tiltak.csv:5: number: not a measure number: 'x'" in message


KNOWN_ORGS = "known: ASD, BFD, Bufdir, HOD, Hdir, JD, KD, KMD, KUD, LMD, Udir"


def test_an_unknown_organisation_in_the_responsible_cell_is_refused_with_its_line(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel;ansvarlig\n2;T;KMD\n\n3;T;XYZ/HOD\n")
    assert message.splitlines() == [
        f"{tmp_path / 'tiltak.csv'}:4: responsible: unknown organisation 'XYZ' ({KNOWN_ORGS})"
    ]


def test_an_unknown_sharing_organisation_is_refused_with_its_line(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel;ansvarlig\n2;T;KMD/HOD/ABC\n")
    assert message.splitlines() == [
        f"{tmp_path / 'tiltak.csv'}:2: responsible: unknown organisation 'ABC' ({KNOWN_ORGS})"
    ]


def test_an_unknown_goal_number_is_refused_with_its_line(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel;hovedmål\n3;T;1\n99;Nytt tiltak;77\n")
    assert message.splitlines() == [
        f"{tmp_path / 'tiltak.csv'}:3: goal: unknown goal 77 "
        "(known: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, …)"
    ]


def test_row_and_reference_problems_are_listed_together_in_line_order(plan, tmp_path):
    message = refused(plan, tmp_path, "nr;tittel;ansvarlig;mål\n2;T;HOD/HOD;99\nx;T\n4;T;XYZ\n")
    assert [line.split(": ", 2)[:2] for line in message.splitlines()] == [
        [f"{tmp_path / 'tiltak.csv'}:2", "responsible"],
        [f"{tmp_path / 'tiltak.csv'}:2", "goal"],
        [f"{tmp_path / 'tiltak.csv'}:3", "number"],
        [f"{tmp_path / 'tiltak.csv'}:4", "responsible"],
    ]
    assert message.count("'HOD' is already the lead") == 1  # said once, with the line
    assert "is listed twice" not in message


def test_a_problem_with_a_measure_not_in_the_table_keeps_the_plan_wording(plan, tmp_path):
    broken = [m.model_copy(update={"lead": "ZZZ"}) if m.number == 5 else m for m in plan.measures]
    index = next(i for i, m in enumerate(broken) if m.number == 5)
    with pytest.raises(PlanFileError) as caught:
        merge(plan.model_copy(update={"measures": broken}), tmp_path, "nr;tittel\n2;T\n")
    assert str(caught.value) == (
        f"{tmp_path / 'tiltak.csv'}: measures[{index}].lead: unknown organisation 'ZZZ' "
        f"({KNOWN_ORGS})"
    )
