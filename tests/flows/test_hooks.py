"""A failed flow run tells the plan's coordinator, with a link to the run in the UI."""

import pytest
from prefect import flow
from prefect.settings import PREFECT_UI_URL

from flows.hooks import notify_failure
from models.settings import get_settings
from notifications.outbox import read_outbox
from tests.plans import import_plan_data, plan_data

pytestmark = pytest.mark.usefixtures("prefect_server")

OLA = {"key": "ola", "name": "Ola", "channels": ["ola@example.org"]}


@flow(name="fails-on-purpose", flow_run_name="fails-on-purpose {plan}", on_failure=[notify_failure])
def fails_on_purpose(plan: str | None = None) -> None:
    raise RuntimeError("the database went away")


def test_a_failed_run_tells_the_coordinator_with_a_link(settings_env, tmp_path):
    import_plan_data(tmp_path, plan_data([OLA], [{"number": 1, "title": "T", "owner": "ola"}]))

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


def test_a_run_without_a_plan_tells_every_coordinator(settings_env, tmp_path):
    import_plan_data(tmp_path, plan_data([OLA], [{"number": 1, "title": "T", "owner": "ola"}]))

    state = fails_on_purpose(return_state=True)

    assert state.is_failed()
    assert [m.to for m in read_outbox(get_settings().outbox_dir)] == ["koord@example.org"]
