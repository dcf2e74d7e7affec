"""`followup doctor` on a good and on a broken installation: one line per check."""

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from followup.cli import app
from tests.plans import import_plan_data, plan_data
from tests.servers import free_port

runner = CliRunner()


def doctor():
    result = runner.invoke(app, ["doctor"], catch_exceptions=False, env={"COLUMNS": "300"})
    lines = {line.split(":")[0]: line for line in result.output.strip().splitlines()}
    return result.exit_code, lines


@pytest.mark.usefixtures("prefect_server")
def test_a_good_installation_is_all_ok(settings_env, tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_URL", "json://127.0.0.1:9/hook")
    people = [
        {"key": "ola", "name": "Ola", "channels": ["ola@example.org", "env:HOOK_URL"]},
        {"key": "siri", "name": "Siri", "channels": ["json://127.0.0.1:9/siri"]},
    ]
    import_plan_data(tmp_path, plan_data(people, [{"number": 1, "title": "T", "owner": "ola"}]))

    code, lines = doctor()

    assert code == 0, lines
    assert list(lines) == [
        "ok    settings",
        "ok    prefect",
        "ok    automation",
        "ok    mail",
        "ok    database",
        "ok    channels",
    ]
    assert "is healthy" in lines["ok    prefect"]
    assert "at migration" in lines["ok    database"]
    assert "4 channel(s) of 3 contact(s) parse" in lines["ok    channels"]


def test_a_broken_installation_says_what_is_wrong(settings_env, tmp_path, monkeypatch):
    people = [
        {"key": "ola", "name": "Ola", "channels": ["nosuchservice://token", "env:NOT_SET_X"]},
    ]
    import_plan_data(tmp_path, plan_data(people, [{"number": 1, "title": "T", "owner": "ola"}]))
    monkeypatch.setenv("FOLLOWUP_MAIL_URL", "nosuchmail://smtp.example.org")
    monkeypatch.setenv("FOLLOWUP_TIMEZONE", "Europe/Atlantis")

    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        code, lines = doctor()

    assert code == 1
    assert "unknown time zone 'Europe/Atlantis'" in lines["FAIL  settings"]
    assert "no answer from http://127.0.0.1:" in lines["FAIL  prefect"]
    assert "FOLLOWUP_MAIL_URL is not a usable Apprise URL" in lines["FAIL  mail"]
    assert "ok    database" in lines
    channels = lines["FAIL  channels"]
    assert "testplan/ola nosuchservice://…: not a usable Apprise URL" in channels
    assert "testplan/ola env:NOT_SET_X: environment variable NOT_SET_X is not set" in channels
    assert "koord" not in channels  # the good ones are not listed


def test_a_missing_database_is_not_created(monkeypatch, tmp_path):
    folder = tmp_path / "nothing-here"
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(folder))

    code, lines = doctor()

    assert code == 1
    assert "run `followup db upgrade`" in lines["FAIL  database"]
    assert not folder.exists()


@pytest.mark.usefixtures("without_automation")
def test_a_server_without_the_automation_for_crashed_runs_is_told_how_to_add_it(settings_env):
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    from flows.automations import apply_automations

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}):
        code, lines = doctor()
        assert code == 1
        assert "run `followup automations`" in lines["FAIL  automation"]
        apply_automations()
        code, lines = doctor()
    assert "is marked Crashed" in lines["ok    automation"]
    assert "9 minutes" in lines["ok    automation"]
