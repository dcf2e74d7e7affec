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


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_plan_file_is_refused_with_file_line_and_field(case, tmp_path, engine):
    text, expected = BAD_INPUTS[case]
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
