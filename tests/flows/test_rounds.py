"""Rounds on a real Prefect server: opening a round starts one waiting (suspended) reply run
per person; a web reply resumes its run; a reply through the UI's Resume form is recorded."""

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL
from sqlmodel import select

from flows.rounds import close_status_round, open_status_round, reopen_status_round
from followup.web.app import sync_prefect
from models.db import session_scope
from models.plan import Contact
from models.replies import ItemReply, record_reply
from models.reporting import ReplyChannel, ReportingRound, RoundContact, StatusReport
from models.rounds import scope_of
from models.status import Status
from tests.conftest import BACKENDS
from tests.plans import import_plan_data, plan_data
from tests.reply_runs import serving_reply_runs, wait_for

pytestmark = pytest.mark.usefixtures("prefect_server")

PEOPLE = [
    {"key": "ola", "name": "Ola Web", "language": "nb", "channels": ["ola@example.org"]},
    {"key": "siri", "name": "Siri Ui", "language": "nn", "channels": ["siri@example.org"]},
    {"key": "nils", "name": "Nils Svarer-ikke", "channels": ["nils@example.org"]},
]
MEASURES = [
    {"number": 1, "title": "Første tiltak", "owner": "ola", "planned_end": "2020-06-01"},
    {"number": 2, "title": "Andre tiltak", "owner": "siri", "planned_end": "2020-09-01"},
    {"number": 3, "title": "Tredje tiltak", "owner": "siri", "planned_end": "2020-09-01"},
    {"number": 4, "title": "Fjerde tiltak", "owner": "nils", "planned_end": "2020-09-01"},
]


@pytest.fixture
def served_reply_deployment(settings_env, tmp_path) -> Iterator[Path]:
    """`collect-status-reply` served by its own process, as `followup up` does."""
    with serving_reply_runs(PREFECT_API_URL.value(), tmp_path / "serve.log") as log:
        yield log


def run_states(round_id: int) -> dict[str, str]:
    with session_scope() as session:
        runs = {
            session.get(Contact, rc.contact_id).key: rc.flow_run_id
            for rc in session.exec(select(RoundContact).where(RoundContact.round_id == round_id))
        }
    with get_client(sync_client=True) as client:
        return {key: client.read_flow_run(UUID(run)).state.name for key, run in runs.items()}


# One backend, PostgreSQL when there is one (production's): what this test adds is Prefect's
# side (about 40 s); the replies and rounds underneath are tested on both in tests/models.
@pytest.mark.parametrize("database_url", BACKENDS[-1:], indirect=True)
def test_round_runs_wait_and_are_resumed_by_any_reply(served_reply_deployment, tmp_path):
    import_plan_data(tmp_path, plan_data(PEOPLE, MEASURES))

    round_id = open_status_round(
        label="Tertial", as_of=date(2020, 5, 4), deadline=date(2020, 5, 29)
    )

    # Each person's reply run waits, suspended, with a name that says who and which round.
    wait_for(
        lambda: set(run_states(round_id).values()) == {"Suspended"}, "the reply runs to suspend"
    )
    with session_scope() as session:
        run_ids = {
            session.get(Contact, rc.contact_id).key: rc.flow_run_id
            for rc in session.exec(select(RoundContact).where(RoundContact.round_id == round_id))
        }
        ola_item = scope_of(
            session, round_id, session.exec(select(Contact).where(Contact.key == "ola")).one().id
        )[0].item
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(UUID(run_ids["ola"])).name == "status Ola Web · Tertial"

    # A web reply is recorded in the database and resumes Ola's run, which completes.
    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        ola = session.exec(select(Contact).where(Contact.key == "ola")).one()
        record_reply(
            session, rnd, ola.id, [ItemReply(ola_item, Status.ON_TRACK)], channel=ReplyChannel.WEB
        )
    sync_prefect(round_id, ola.id)
    wait_for(lambda: run_states(round_id)["ola"] == "Completed", "Ola's run to complete", 20)
    # ...and the round's table of who is missing, in the UI, now names Siri only.
    missing = json.loads(Artifact.get(f"round-{round_id}-missing").data)
    assert [row["person"] for row in missing] == ["Nils Svarer-ikke", "Siri Ui"]

    # Siri phoned in her first measure (recorded without telling Prefect), then answers the
    # second through the Prefect UI's Resume form, the "(system)" field filled in as well:
    # recorded like a web reply, not taken for "answered another way".
    with session_scope() as session:
        siri = session.exec(select(Contact).where(Contact.key == "siri")).one()
        first = scope_of(session, round_id, siri.id)[0].item
        record_reply(
            session,
            session.get(ReportingRound, round_id),
            siri.id,
            [ItemReply(first, Status.ON_TRACK)],
            channel=ReplyChannel.COORDINATOR,
            entered_by="Kari",
        )
    resume_flow_run(
        UUID(run_ids["siri"]),
        run_input={
            "entered_by": "Kari Koordinator",
            "recorded_via": "telefon",
            "item_2_status": "delayed",
            "item_2_progress": 30,
            "item_2_expected_completion": "2020-10-15",
            "item_2_risk_note": "Høring utsatt",
        },
    )
    wait_for(lambda: run_states(round_id)["siri"] == "Completed", "Siri's run to complete")
    with session_scope() as session:
        siri_reports = session.exec(
            select(StatusReport).where(StatusReport.channel == ReplyChannel.PREFECT_UI)
        ).all()
    assert [
        (r.item, r.status, r.progress, str(r.expected_completion), r.risk_note, r.entered_by)
        for r in siri_reports
    ] == [("measure:3", "delayed", 30, "2020-10-15", "Høring utsatt", "Kari Koordinator")]

    # Closing the round leaves no run waiting (Nils's is released).
    close_status_round(round_id=round_id)
    wait_for(lambda: set(run_states(round_id).values()) == {"Completed"}, "every run to end")

    # Reopened, the round has a waiting run again for Nils, who never answered; only him.
    assert reopen_status_round(round_id=round_id, deadline=date(2020, 6, 12), by="Kari") == 1
    wait_for(lambda: run_states(round_id)["nils"] == "Suspended", "Nils's new run to suspend")
    states = run_states(round_id)
    assert (states["ola"], states["siri"]) == ("Completed", "Completed")
    close_status_round(round_id=round_id)
    wait_for(lambda: set(run_states(round_id).values()) == {"Completed"}, "every run to end")
