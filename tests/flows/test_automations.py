"""followup's automation on the Prefect server: made once, brought up to date by name, and
`followup automations` saying clearly when it cannot be made. (That it marks a run Crashed
and leaves a suspended one alone is tested on a real `followup up`, in test_up.py.)"""

from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    temporary_settings,
)
from typer.testing import CliRunner

from flows.automations import UNRESPONSIVE_RUNS, apply_automations, unresponsive_after
from followup.cli import app
from tests.servers import free_port

runner = CliRunner()


def automations() -> list:
    with get_client(sync_client=True) as client:
        return client.read_automations_by_name(UNRESPONSIVE_RUNS)


@pytest.mark.usefixtures("without_automation")
def test_applying_twice_makes_one_automation_with_the_newest_window():
    assert apply_automations(timedelta(minutes=9)).startswith("created")
    assert apply_automations(timedelta(minutes=12)).startswith("updated")
    (made,) = automations()
    assert made.enabled
    assert made.trigger.within == timedelta(minutes=12)
    assert "prefect.flow-run.Suspended" in made.trigger.expect
    assert made.actions[0].state.value == "CRASHED"


def test_the_window_is_three_heartbeats():
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}):
        assert unresponsive_after() == timedelta(minutes=9)
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        assert unresponsive_after() is None


@pytest.mark.usefixtures("prefect_server")
def test_without_heartbeats_the_command_says_that_a_dead_run_stays_running():
    # The test session's flow runs send no heartbeats (see conftest.prefect_server).
    result = runner.invoke(app, ["automations"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "send no heartbeats" in result.output


def test_the_command_refuses_to_guess_the_server():
    with temporary_settings({PREFECT_API_URL: None}):
        result = runner.invoke(app, ["automations"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "PREFECT_API_URL is not set" in result.output


def test_the_command_says_when_the_server_does_not_answer():
    url = f"http://127.0.0.1:{free_port()}/api"
    with temporary_settings({PREFECT_API_URL: url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}):
        result = runner.invoke(app, ["automations"], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"cannot reach the Prefect server at {url}" in result.output
