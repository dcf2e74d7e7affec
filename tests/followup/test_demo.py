"""`make demo` tells the whole story: run in-process on the session's Prefect server, with
the reply app over real HTTP, and read back as a user reads it."""

import pytest
from rich.console import Console

from followup.demo import run_demo
from models.settings import get_settings
from notifications.outbox import read_outbox

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the embedded default
def test_the_demo_runs_the_1_june_2020_round_from_invitations_to_the_summary(
    settings_env, monkeypatch
):
    monkeypatch.setenv("FOLLOWUP_PUBLIC_URL", "http://127.0.0.1:1")  # the demo sets its own
    console = Console(record=True, width=200)
    run_demo(console, fresh=True)
    told = console.export_text()

    assert "29 May again (exactly once): 2020-05-29: 0 reminder(s) in 0 message(s)" in told
    assert "round 1 opened: 7 invitations" in told
    assert told.count("item(s) → HTTP 200") == 6
    assert "ingrid.hansen@example.org: does not answer" in told
    assert "6 of 7 people complete; missing: Ingrid Hansen" in told

    messages = read_outbox(get_settings().outbox_dir)
    chasers = [m.to for m in messages if "Status per 1. juni 2020» manglar" in m.subject]
    assert chasers == ["ingrid.hansen@example.org"]  # only the one who did not answer
    notices = [m for m in messages if m.subject.startswith("Svarfristen for")]
    assert [(m.to, m.subject) for m in notices] == [
        (
            "kari.nordmann@example.org",
            "Svarfristen for «Status per 1. juni 2020» er ute: 1 av 7 har ikke svart",
        )
    ]
    reports = sorted(p.name for p in (get_settings().data_dir / "reports").rglob("*.*"))
    assert reports == [
        "items.csv",
        "items.json",
        "summary-nb.docx",
        "summary-nb.html",
        "summary-nb.md",
    ]
    for name in reports:
        assert name in told  # the demo ends by saying where the files are
