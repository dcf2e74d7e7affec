"""Reading plan files: every bad input names the file, the line and the field, and the
database is exactly as it was before."""

import re
from pathlib import Path

import pytest

from models.db import session_scope
from models.importer import import_path
from models.planfile import PlanFileError, parse_plan_text, read_plan_file
from tests.conftest import BUNDLED_PLAN
from tests.helpers import snapshot

MINIMAL = """\
plan:
  key: p
  title: Plan
  period: {start: 2020-01-01, end: 2020-12-31}
organisations:
  - {key: HOD, name: Helse- og omsorgsdepartementet, kind: ministry}
measures:
  - number: 1
    title: Første tiltak
    lead: HOD
    planned_end: 2020-06-01
"""


def test_bundled_plan_is_valid_and_complete():
    pf = read_plan_file(BUNDLED_PLAN)
    assert len(pf.goals) == 13
    assert [m.number for m in pf.measures] == [*range(1, 15), 65]
    assert {o.key for o in pf.organisations} >= {
        "HOD",
        "BFD",
        "KD",
        "ASD",
        "JD",
        "KUD",
        "KMD",
        "LMD",
        "Hdir",
    }
    assert len(pf.assignments) == 5
    implementation = pf.assignments[0]
    assert str(implementation.deadline) == "2020-06-01"
    assert "deadline" not in (implementation.illustrative or [])
    shared = {m.number: (m.lead, m.shared) for m in pf.measures}
    assert shared[2] == ("KMD", ["HOD"])
    assert shared[8] == ("HOD", ["BFD"])
    assert all(c.channels[0].endswith("@example.org") for c in pf.contacts)


def test_minimal_plan_parses():
    pf = parse_plan_text(MINIMAL, "x.yaml")
    assert pf.measures[0].lead == "HOD"


BAD_INPUTS = {
    "yaml syntax error": (
        MINIMAL.replace("title: Plan", "title: [Plan"),
        r"x.yaml:\d+: YAML syntax error",
    ),
    "missing required field": (
        MINIMAL.replace("    title: Første tiltak\n", ""),
        r"x.yaml:8: measures\[0\].title: required field is missing",
    ),
    "unknown organisation": (
        MINIMAL.replace("lead: HOD", "lead: XYZ"),
        r"x.yaml:10: measures\[0\].lead: unknown organisation 'XYZ' \(known: HOD\)",
    ),
    "duplicate measure number": (
        MINIMAL + "  - {number: 1, title: Igjen}\n",
        r"x.yaml:12: measures\[1\].number: duplicate number 1 in measures",
    ),
    "impossible date": (
        MINIMAL.replace("planned_end: 2020-06-01", "planned_end: 2020-02-30"),
        r"x.yaml:11: measures\[0\].planned_end: 2020-02-30 is not a date: day is out of range",
    ),
    "deadline outside the period": (
        MINIMAL.replace("planned_end: 2020-06-01", "planned_end: 2021-06-01"),
        r"x.yaml:11: measures\[0\].planned_end: 2021-06-01 is outside the plan period "
        r"2020-01-01 to 2020-12-31",
    ),
    "number given as a date": (
        MINIMAL.replace("planned_end: 2020-06-01", "planned_end: 20200601"),
        r"x.yaml:11: measures\[0\].planned_end: expected a date as YYYY-MM-DD",
    ),
    "misspelt field": (
        MINIMAL.replace("lead: HOD", "leader: HOD"),
        r"x.yaml:10: measures\[0\].leader: unknown field",
    ),
    "duplicate yaml key": (
        MINIMAL.replace("    lead: HOD\n", "    lead: HOD\n    lead: HOD\n"),
        r"x.yaml:11: measures\[0\].lead: key 'lead' appears twice",
    ),
    "empty file": ("", r"x.yaml: the file is empty"),
    "only comments": ("# nothing here\n", r"x.yaml: the file is empty"),
    "not a mapping": ("- a\n- b\n", r"x.yaml:1: expected a mapping"),
    "bad channel": (
        MINIMAL + "contacts:\n  - {key: k, name: K, channels: [not a url]}\n",
        r"x.yaml:13: contacts\[0\].channels\[0\]: expected an e-mail address",
    ),
    "period ends before it starts": (
        MINIMAL.replace("end: 2020-12-31", "end: 2019-12-31"),
        r"x.yaml:4: plan.period: .*period ends \(2019-12-31\) before it starts",
    ),
}


def test_non_utf8_file_is_refused_with_its_line(tmp_path, engine):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MINIMAL.replace("Første", "F\u00f8rste").encode("latin-1"))
    before = snapshot(engine)
    with pytest.raises(PlanFileError) as caught, session_scope() as session:
        import_path(session, str(path))
    assert f"{path}:9: not UTF-8 text (byte 0xF8)" in str(caught.value)
    assert snapshot(engine) == before


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(PlanFileError, match="cannot read the file"):
        read_plan_file(Path(tmp_path / "nope.yaml"))


def test_every_problem_is_listed_at_once():
    text = MINIMAL.replace("lead: HOD", "lead: XYZ") + "  - {number: 1, title: Igjen}\n"
    with pytest.raises(PlanFileError) as caught:
        parse_plan_text(text, "x.yaml")
    assert len(caught.value.problems) == 2


WITH_CONTACT_AND_ASSIGNMENT = (
    MINIMAL.replace(
        "  period: {start: 2020-01-01, end: 2020-12-31}\n",
        "  period: {start: 2020-01-01, end: 2020-12-31}\n  summary_recipients: [k, m]\n",
    ).replace(
        "  - {key: HOD, name: Helse- og omsorgsdepartementet, kind: ministry}\n",
        "  - {key: HOD, name: Helse- og omsorgsdepartementet, kind: ministry}\n"
        "  - {key: KD, name: Kunnskapsdepartementet, kind: ministry}\n",
    )
    + "contacts:\n  - {key: k, name: K}\n  - {key: m, name: M}\n"
    + "assignments:\n  - key: a1\n    letter: Brev\n    title: Oppdrag\n    measures:\n      - 1\n"
)

MORE_BAD_INPUTS = {
    "repeated shared organisation": (
        WITH_CONTACT_AND_ASSIGNMENT.replace(
            "    lead: HOD\n", "    lead: HOD\n    shared: [KD, KD]\n"
        ),
        r"x.yaml:13: measures\[0\].shared\[1\]: 'KD' is listed twice in shared",
    ),
    "repeated related measure": (
        WITH_CONTACT_AND_ASSIGNMENT + "      - 1\n",
        r"x.yaml:23: assignments\[0\].measures\[1\]: 1 is listed twice in measures",
    ),
    "repeated summary recipient": (
        WITH_CONTACT_AND_ASSIGNMENT.replace(
            "summary_recipients: [k, m]", "summary_recipients: [k, k]"
        ),
        r"x.yaml:5: plan.summary_recipients\[1\]: 'k' is listed twice in summary_recipients",
    ),
    "self-referencing anchor": (
        MINIMAL + "extra: &a [*a]\n",
        r"x.yaml:12: anchors and aliases \(& and \*\) are not supported in a plan file",
    ),
    "plan that aliases itself": (
        MINIMAL.replace("plan:\n", "plan: &p\n  self: *p\n"),
        r"x.yaml:1: anchors and aliases \(& and \*\) are not supported in a plan file",
    ),
    "alias to a value": (
        MINIMAL.replace("lead: HOD", "lead: &o HOD\n    owner: *o"),
        r"x.yaml:10: anchors and aliases \(& and \*\) are not supported in a plan file",
    ),
    "complex key": (
        MINIMAL + "? [a, b]\n: c\n",
        r"x.yaml:12: a key must be plain text",
    ),
    "complex key inside a measure": (
        MINIMAL + "    ? {a: b}\n    : c\n",
        r"x.yaml:12: measures\[0\]: a key must be plain text",
    ),
    "organisation key longer than its column": (
        MINIMAL.replace("HOD", "H" * 51),
        r"x.yaml:6: organisations\[0\].key: String should have at most 50 characters",
    ),
    "measure title longer than its column": (
        MINIMAL.replace("Første tiltak", "x" * 1001),
        r"x.yaml:9: measures\[0\].title: String should have at most 1000 characters",
    ),
    "plan title longer than its column": (
        MINIMAL.replace("title: Plan", "title: " + "x" * 501),
        r"x.yaml:3: plan.title: String should have at most 500 characters",
    ),
    "lead also in shared": (
        WITH_CONTACT_AND_ASSIGNMENT.replace(
            "    lead: HOD\n", "    lead: HOD\n    shared: [KD, HOD]\n"
        ),
        r"x.yaml:13: measures\[0\].shared\[1\]: 'HOD' is already the lead",
    ),
    "goal true read as a boolean, not as goal 1": (
        MINIMAL.replace("    lead: HOD\n", "    lead: HOD\n    goal: true\n"),
        r"x.yaml:11: measures\[0\].goal: expected a whole number, not true: YAML reads it as "
        r"true/false",
    ),
    "organisation key NO read as false": (
        MINIMAL.replace("HOD", "NO"),
        r'x.yaml:6: organisations\[0\].key: write it in quotes \("NO"\): YAML reads NO/yes/on '
        r"as true/false",
    ),
}


@pytest.mark.parametrize("case", [*BAD_INPUTS, *MORE_BAD_INPUTS])
def test_bad_plan_file_is_refused_with_file_line_and_field(case, tmp_path, engine):
    text, expected = (BAD_INPUTS | MORE_BAD_INPUTS)[case]
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with session_scope() as session:
        import_path(session, str(BUNDLED_PLAN))
    before = snapshot(engine)

    with pytest.raises(PlanFileError) as caught, session_scope() as session:
        import_path(session, str(path))

    assert caught.value.source == str(path)
    message = str(caught.value).replace(str(path), "x.yaml")
    assert re.search(expected, message), message
    assert snapshot(engine) == before


EVERY_WHOLE_NUMBER = """\
version: 1
plan:
  key: p
  title: Plan
  period: {start: 2020-01-01, end: 2020-12-31}
  reminder_policy:
    before_days:
      - 7
    overdue_every_days: 7
organisations:
  - {key: HOD, name: Helse- og omsorgsdepartementet, kind: ministry}
goals:
  - number: 1
    title: Mål
    chapter: 3
measures:
  - number: 1
    title: Tiltak
    goal: 1
    chapter: 3
    priority: 2
assignments:
  - key: a1
    letter: Brev
    title: Oppdrag
    priority: 1
    measures:
      - 1
"""


@pytest.mark.parametrize(
    ("line", "field", "written"),
    [
        (1, "version", "true"),
        (8, "plan.reminder_policy.before_days[0]", "yes"),
        (9, "plan.reminder_policy.overdue_every_days", "on"),
        (13, "goals[0].number", "true"),
        (15, "goals[0].chapter", "false"),
        (17, "measures[0].number", "true"),
        (19, "measures[0].goal", "true"),
        (20, "measures[0].chapter", "no"),
        (21, "measures[0].priority", "off"),
        (26, "assignments[0].priority", "true"),
        (28, "assignments[0].measures[0]", "true"),
    ],
)
def test_a_boolean_where_a_number_belongs_is_refused(line, field, written):
    """YAML reads true/yes/on as a boolean; pydantic would take it as 1 (goal: true as goal 1)."""
    assert parse_plan_text(EVERY_WHOLE_NUMBER, "x.yaml").measures[0].goal == 1
    lines = EVERY_WHOLE_NUMBER.splitlines(keepends=True)
    lines[line - 1] = re.sub(r"\d+$", written, lines[line - 1])
    with pytest.raises(PlanFileError) as caught:
        parse_plan_text("".join(lines), "x.yaml")
    assert str(caught.value) == (
        f"x.yaml:{line}: {field}: expected a whole number, not {written}: "
        "YAML reads it as true/false"
    )


def test_reference_lists_without_repeats_still_import(tmp_path, engine):
    path = tmp_path / "x.yaml"
    path.write_text(
        WITH_CONTACT_AND_ASSIGNMENT.replace("    lead: HOD\n", "    lead: HOD\n    shared: [KD]\n"),
        encoding="utf-8",
    )
    with session_scope() as session:
        import_path(session, str(path))


def test_values_as_long_as_their_columns_import(tmp_path, engine):
    """The plan file's limits are the database's: the longest allowed values fit on every
    backend (PostgreSQL refuses what does not fit; SQLite would accept anything)."""
    key, title = "K" * 50, "t" * 1000
    text = MINIMAL.replace("HOD", key).replace("Første tiltak", title)
    text = text.replace("title: Plan", "title: " + "p" * 500)
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with session_scope() as session:
        import_path(session, str(path))
    pf = read_plan_file(path)
    assert pf.organisations[0].key == key and pf.measures[0].title == title


def test_quoted_no_is_an_organisation_key():
    pf = parse_plan_text(MINIMAL.replace("HOD", '"NO"'), "x.yaml")
    assert pf.organisations[0].key == "NO" and pf.measures[0].lead == "NO"


def test_billion_laughs_is_refused_before_any_alias_is_expanded():
    """Nine levels of ten aliases: 10^9 strings if expanded. Refused at the first anchor
    (line 1), which is only possible before expansion (expanding would not finish)."""
    lines = ['a0: &a0 "lol"']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]")
    with pytest.raises(PlanFileError, match=r"x.yaml:1: anchors and aliases"):
        parse_plan_text("\n".join(lines) + "\n", "x.yaml")


def test_deeply_nested_yaml_is_a_plan_file_error():
    with pytest.raises(PlanFileError, match="nested too deeply"):
        parse_plan_text("plan: " + "[" * 5000 + "]" * 5000 + "\n", "x.yaml")
