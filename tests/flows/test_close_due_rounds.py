"""close-due-rounds on a real Prefect server: a round closes on the first working morning
after its reply deadline, and closing it sends the ministry its summary."""

from datetime import date

import pytest
from sqlmodel import select

from flows.rounds import close_due_rounds
from models.db import session_scope
from models.reporting import ReportingRound, RoundState
from models.rounds import open_round
from models.settings import get_settings
from notifications.outbox import read_outbox
from tests.plans import import_plan_data, plan_data

pytestmark = pytest.mark.usefixtures("prefect_server")

PEOPLE = [
    {"key": "ola", "name": "Ola Nordmann", "channels": ["ola@example.org"]},
    {"key": "hod", "name": "Hanne HOD", "organisation": "HOD", "language": "nn",
     "channels": ["hanne@example.org"]},
]  # fmt: skip
MEASURES = [{"number": 1, "title": "Første tiltak", "owner": "ola", "planned_end": "2020-12-31"}]
FRIDAY = date(2020, 5, 8)


def test_a_round_closes_on_the_first_working_morning_after_its_deadline(settings_env, tmp_path):
    import_plan_data(tmp_path, plan_data(PEOPLE, MEASURES, summary_recipients=["hod"]))
    with session_scope() as session:
        round_id = open_round(session, label="Vår", as_of=date(2020, 5, 4), deadline=FRIDAY).id

    assert close_due_rounds(as_of=FRIDAY) == []  # the deadline day still takes replies
    assert close_due_rounds(as_of=date(2020, 5, 9)) == []  # Saturday
    assert close_due_rounds(as_of=date(2020, 5, 11)) == [round_id]
    assert close_due_rounds(as_of=date(2020, 5, 12)) == []  # closed once

    with session_scope() as session:
        assert session.exec(select(ReportingRound.state)).one() == RoundState.CLOSED
    sent = [(m.to, m.subject) for m in read_outbox(get_settings().outbox_dir)]
    assert sent == [("hanne@example.org", "Oppfølgingsrapport: Testplan, Vår")]
    reports = get_settings().data_dir / "reports"
    assert {".docx", ".html"} <= {p.suffix for p in reports.rglob("*")}
