"""build-summary on a real Prefect server, sending through a real SMTP server."""

import asyncio
from datetime import UTC, date, datetime

import pytest
import typer
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlmodel import select
from typer.testing import CliRunner

from flows.build_summary import build_summary, run_demo_summary
from models.db import session_scope
from models.plan import Contact, Measure
from models.reporting import ReportingRound, RoundItem, StatusReport
from models.settings import get_settings
from tests.plans import import_plan_data, plan_data
from tests.servers import start_smtp

pytestmark = pytest.mark.usefixtures("prefect_server")

PEOPLE = [
    {"key": "ola", "name": "Ola", "channels": ["ola@example.org"]},
    {"key": "hod", "name": "Hanne HOD", "organisation": "HOD", "language": "nn",
     "channels": ["hanne@example.org"]},
]  # fmt: skip
MEASURES = [
    {"number": 1, "title": "Første <tiltak>", "owner": "ola", "planned_end": "2020-12-31"},
    {"number": 2, "title": "Andre", "owner": "ola", "planned_end": "2020-05-15"},
]


@pytest.fixture
def smtp(monkeypatch, settings_env):
    server, controller = start_smtp()
    monkeypatch.setenv("FOLLOWUP_MAIL_URL", server.url())
    monkeypatch.setenv("FOLLOWUP_DELIVERY_BACKOFF_SECONDS", "0")
    get_settings.cache_clear()
    yield server
    controller.stop()


@pytest.fixture
def round_id(smtp, tmp_path) -> int:
    import_plan_data(
        tmp_path, plan_data(PEOPLE, MEASURES, summary_recipients=["hod"], key="Plan_2020.Ø")
    )
    with session_scope() as s:
        m1 = s.exec(select(Measure).where(Measure.number == 1)).one()
        ola = s.exec(select(Contact).where(Contact.key == "ola")).one()
        rnd = ReportingRound(
            plan_id=m1.plan_id, label="1. juni 2020", as_of=date(2020, 6, 1),
            deadline=date(2020, 6, 5),
        )  # fmt: skip
        s.add(rnd)
        s.flush()
        for m in s.exec(select(Measure)).all():
            s.add(RoundItem(round_id=rnd.id, item=f"measure:{m.id}", contact_id=ola.id))
        s.add(
            StatusReport(
                plan_id=m1.plan_id, measure_id=m1.id, round_id=rnd.id, contact_id=ola.id,
                status="at_risk", risk_note="<script>x</script>",
                submitted_at=datetime(2020, 6, 2, 9, tzinfo=UTC),
            )
        )  # fmt: skip
        return rnd.id


def artifacts(key: str) -> list:
    async def read():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )

    return asyncio.run(read())


def latest(key: str):
    found = artifacts(key)
    return len(found), max(found, key=lambda a: a.created)


def test_summary_is_written_published_and_mailed_once_with_attachments(smtp, round_id):
    # The Prefect server is shared by the session (and both databases): count what is new.
    before = len(artifacts("summary-plan-2020-o"))
    result = build_summary(round=round_id)

    folder = get_settings().data_dir / "reports" / "plan-2020-o" / f"round-{round_id}-1-juni-2020"
    assert result.folder == folder
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert names == sorted(
        ["items.csv", "items.json"]
        + [f"summary-{lang}.{ext}" for lang in ("nb", "nn") for ext in ("html", "md", "docx")]
    )
    assert [o.state.value for o in result.outcomes] == ["sent"]
    [message] = smtp.to("hanne@example.org")
    parts = {p.get_filename(): p for p in message.walk() if p.get_filename()}
    assert set(parts) == {"summary-nn.html", "summary-nn.docx"}  # her language
    html = parts["summary-nn.html"].get_payload(decode=True).decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "Samandrag" in html
    body = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert "Svarprosent: 50 %" in body.get_payload(decode=True).decode()

    count, page = latest("summary-plan-2020-o")
    assert count == before + 1
    assert page.type == "markdown" and "Tiltak 1" in page.data and "\\<tiltak\\>" in page.data
    _, table = latest("summary-table-plan-2020-o")
    assert table.type == "table" and "Tiltak 2" in table.data

    again = build_summary(round=round_id)
    assert again.sent.queued == 0 and again.sent.already_sent == ["Hanne HOD"]
    assert len(smtp.to("hanne@example.org")) == 1  # not sent twice
    assert len(artifacts("summary-plan-2020-o")) == before + 2  # history: one per run


def test_command_and_demo_function(smtp, round_id):
    from rich.console import Console

    from followup.cli_summary import register

    app = typer.Typer()
    app.command("noop")(lambda: None)  # a group, so `summary` is a subcommand
    register(app)
    runner = CliRunner()
    done = runner.invoke(app, ["summary", "--as-of", "2020-06-01", "--no-send", "--language", "en"])
    assert done.exit_code == 0, done.output
    assert "as-of-2020-06-01" in done.output and "summary-en.docx" in done.output
    assert smtp.messages == []
    bad = runner.invoke(app, ["summary", "--round", "999"])
    assert bad.exit_code == 2 and "no round with id 999" in bad.output

    console = Console(record=True, width=200)
    result = run_demo_summary(console)  # finds the round as of 1 June 2020
    assert result.built.round_id == round_id
    assert str(result.folder) in console.export_text()
