"""The `followup` command as a coordinator uses it."""

import click
import pytest
import typer
from typer.testing import CliRunner

from followup.cli import app
from models.db import get_engine
from models.settings import get_settings
from tests.conftest import BUNDLED_PLAN

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def all_command_paths(command: click.Command, prefix=()) -> list[tuple[str, ...]]:
    paths = [prefix]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            paths += all_command_paths(sub, (*prefix, name))
    return paths


@pytest.mark.parametrize("path", all_command_paths(typer.main.get_command(app)), ids=" ".join)
def test_every_command_has_help(path):
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.strip().splitlines()) > 3


def test_import_show_and_export(settings_env, tmp_path):
    first = invoke("import", str(BUNDLED_PLAN))
    assert first.exit_code == 0, first.output
    assert "created 11 organisation" in first.output
    again = invoke("import", str(BUNDLED_PLAN))
    assert "created nothing; updated nothing" in again.output

    shown = runner.invoke(app, ["plan", "show", "--as-of", "2020-06-02"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "Opptrappingsplan for barn og unges psykiske helse" in shown.output
    assert "15 measures, 5 assignments, 2 overdue" in shown.output
    assert "2020-06-01" in shown.output and "(2. pinsedag)" in shown.output
    assert "OVERDUE 4 d" in shown.output  # measure 4 and the referral dialogue, due 29 May

    out = tmp_path / "out.yaml"
    exported = invoke("export", "-o", str(out))
    assert exported.exit_code == 0
    assert "t10-2020-gjennomforingsplan" in out.read_text(encoding="utf-8")
    assert invoke("plan", "list").output.startswith("opptrapping-bu-2019")


def test_bad_plan_file_exits_non_zero_naming_file_and_line(settings_env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("plan:\n  key: x\n  title: [oops\n", encoding="utf-8")
    result = runner.invoke(app, ["import", str(bad)])
    assert result.exit_code == 2
    assert f"error: {bad}:" in result.output and "YAML syntax error" in result.output
    assert "Traceback" not in result.output


def test_unreachable_database_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x")
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        result = runner.invoke(app, ["plan", "show"])
    finally:
        get_settings.cache_clear()
        get_engine.cache_clear()
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(
        "error: cannot reach the database at postgresql+psycopg://nobody:***@"
    )
    assert "s3cret" not in result.output


def test_unmigrated_database_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        result = runner.invoke(app, ["plan", "show"])
        assert result.exit_code == 2
        assert "no database at sqlite:///" in result.output
        assert "run `followup db upgrade`" in result.output
        assert not (tmp_path / "followup.db").exists()  # asking left no empty file behind
        upgraded = runner.invoke(app, ["db", "upgrade"])
        assert "migrated from empty to" in upgraded.output
        assert "up to date" in runner.invoke(app, ["db", "current"]).output
    finally:
        get_engine().dispose()
        get_settings.cache_clear()
        get_engine.cache_clear()


def test_bad_as_of_date_is_refused(settings_env):
    result = runner.invoke(app, ["plan", "show", "--as-of", "2020-02-30"])
    assert result.exit_code == 2
    assert "--as-of: '2020-02-30' is not a date" in result.output


def test_reply_on_someones_behalf_says_what_is_wrong_in_words(settings_env, tmp_path):
    from tests.web import open_bundled_round

    bundled = open_bundled_round()
    kari = bundled["hdir-koordinator"]
    item = kari.items[0]  # as the form names it, e.g. "assignment:t10-2020-gjennomforingsplan"
    base = ["reply", "--contact", kari.key, "--entered-by", "Per", "--round", "1"]
    late = runner.invoke(app, [*base, "--item", item, "--status", "delayed"])
    assert late.exit_code == 2
    assert "--expected: Give a new expected completion date" in late.output
    assert "--risk: " in late.output and "risk_required" not in late.output
    other = bundled["hdir-folkehelse"].items[0]
    foreign = runner.invoke(app, [*base, "--item", other, "--status", "on_track"])
    assert foreign.exit_code == 2
    assert "Kari Nordmann is not asked about it in round 1" in foreign.output
    ok = runner.invoke(app, [*base, "--item", item, "--status", "on_track", "--progress", "40"])
    assert ok.exit_code == 0, ok.output
    assert f"recorded on_track for {item} on behalf of Kari Nordmann" in ok.output


def test_reply_refuses_an_item_name_that_is_both_a_measure_and_an_assignment(
    settings_env, tmp_path
):
    from datetime import date

    from models.db import session_scope
    from models.rounds import open_round
    from tests.plans import import_plan_data, plan_data

    measures = [{"number": 1, "title": "Tiltak 1", "owner": "koord", "planned_end": "2020-12-31"}]
    assignments = [
        {
            "key": "1",
            "letter": "Brev",
            "title": "Oppdrag 1",
            "owner": "koord",
            "deadline": "2020-12-31",
        }
    ]
    import_plan_data(tmp_path, plan_data([], measures, assignments))
    with session_scope() as session:
        open_round(session, label="R", as_of=date(2020, 6, 1), deadline=date(2020, 6, 15))
    base = ["reply", "--contact", "koord", "--entered-by", "Per", "--status", "on_track"]
    both = runner.invoke(app, [*base, "--item", "1"])
    assert both.exit_code == 2
    assert "--item 1 names more than one item; write one of" in both.output
    assert "measure:1" in both.output and "assignment:1" in both.output
    chosen = runner.invoke(app, [*base, "--item", "measure:1"])
    assert chosen.exit_code == 0, chosen.output


def test_a_revision_or_port_that_does_not_exist_is_one_line(settings_env):
    revision = runner.invoke(app, ["db", "upgrade", "nosuchrev"])
    assert revision.exit_code == 2
    assert "migration: Can't locate revision identified by 'nosuchrev'" in revision.output
    port = runner.invoke(app, ["serve", "--port", "70000"])
    assert port.exit_code == 2 and "65535" in port.output


def test_a_wrong_setting_is_one_line_naming_the_variable(settings_env, monkeypatch):
    with monkeypatch.context() as patched:  # undone before settings_env tears down
        patched.setenv("FOLLOWUP_TIMEZONE", "Mars/Base")
        get_settings.cache_clear()
        result = runner.invoke(app, ["plan", "list"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: FOLLOWUP_TIMEZONE: unknown time zone 'Mars/Base' (e.g. Europe/Oslo)"
    )
    get_settings.cache_clear()


def test_round_status_shows_labels_and_names_as_typed(settings_env, tmp_path):
    from datetime import date

    from models.db import session_scope
    from models.rounds import open_round
    from tests.plans import import_plan_data, plan_data

    people = [{"key": "ola", "name": "Ola [red]Nordmann[/red]", "channels": ["o@example.org"]}]
    measures = [{"number": 1, "title": "T", "owner": "ola", "planned_end": "2020-12-31"}]
    import_plan_data(tmp_path, plan_data(people, measures))
    with session_scope() as session:
        day, due = date(2020, 6, 1), date(2020, 6, 15)
        open_round(session, label="1. tertial [/utkast]", as_of=day, deadline=due)
    result = runner.invoke(app, ["round", "status"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "1. tertial [/utkast]" in result.output
    assert "Ola [red]Nordmann[/red]" in result.output
