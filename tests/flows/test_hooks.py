"""A failed flow run tells the plan's coordinator, with a link to the run in the UI."""

import pytest
from prefect import flow
from prefect.settings import PREFECT_UI_URL

from flows.hooks import notify_failure
from models.rounds import RoundError
from models.settings import get_settings
from notifications.outbox import read_outbox
from tests.plans import import_plan_data, plan_data

pytestmark = pytest.mark.usefixtures("prefect_server")

OLA = {"key": "ola", "name": "Ola", "channels": ["ola@example.org"]}


@flow(name="fails-on-purpose", flow_run_name="fails-on-purpose {plan}", on_failure=[notify_failure])
def fails_on_purpose(plan: str | None = None) -> None:
    raise RuntimeError("the database went away")


@flow(name="asked-the-impossible", on_failure=[notify_failure])
def asked_the_impossible(plan: str | None = None) -> None:
    raise RoundError("the reply deadline 2021-04-01 is before the as-of date 2021-04-30")


@flow(name="calls-a-failing-subflow", on_failure=[notify_failure])
def calls_a_failing_subflow(plan: str | None = None) -> None:
    fails_on_purpose(plan=plan)


@pytest.fixture
def two_plans(settings_env, tmp_path) -> None:
    """testplan (coordinator koord@) and another plan whose coordinator is ola2@."""
    import_plan_data(tmp_path, plan_data([OLA], [{"number": 1, "title": "T", "owner": "ola"}]))
    other = tmp_path / "other"
    other.mkdir()
    ola2 = {"key": "ola", "name": "Ola To", "channels": ["ola2@example.org"]}
    measures = [{"number": 1, "title": "T", "owner": "ola"}]
    import_plan_data(other, plan_data([ola2], measures, coordinator="ola", key="annen"))


def test_a_failed_run_tells_the_coordinator_with_a_link(two_plans):

    state = fails_on_purpose(plan="testplan", return_state=True)

    assert state.is_failed()
    run_id = state.state_details.flow_run_id
    (message,) = read_outbox(get_settings().outbox_dir)  # the coordinator only, once
    assert message.to == "koord@example.org"
    assert message.subject == "Kjøring feilet: fails-on-purpose testplan"
    link = f"{PREFECT_UI_URL.value()}/runs/flow-run/{run_id}"
    assert link.startswith("http") and link in message.text
    assert f'href="{link}"' in message.html
    assert "the database went away" in message.text


def test_a_run_without_a_plan_tells_every_coordinator(two_plans):
    state = fails_on_purpose(return_state=True)

    assert state.is_failed()
    told = sorted(m.to for m in read_outbox(get_settings().outbox_dir))
    assert told == ["koord@example.org", "ola2@example.org"]


def test_a_failing_subflow_is_told_once_by_the_run_that_called_it(two_plans):
    state = calls_a_failing_subflow(plan="annen", return_state=True)

    assert state.is_failed()
    (message,) = read_outbox(get_settings().outbox_dir)  # not once per flow level
    assert message.to == "ola2@example.org"
    assert f"/runs/flow-run/{state.state_details.flow_run_id}" in message.text  # the caller
    assert "the database went away" in message.text  # with the subflow's error


def test_a_run_started_here_that_failed_on_its_input_tells_no_one(two_plans):
    """The person at the terminal was shown what to fix; the coordinator gets no mail (a
    deployed run that fails the same way still tells: nobody watched it)."""
    state = asked_the_impossible(plan="testplan", return_state=True)

    assert state.is_failed()
    assert read_outbox(get_settings().outbox_dir) == []
