"""`make demo`: the story of the 2020 case on embedded defaults (SQLite, Prefect's local
mode, the outbox), told step by step in the terminal."""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import httpx
from rich.console import Console
from rich.rule import Rule

from models.db import get_engine, session_scope
from models.migrate import upgrade
from models.overview import plan_overview
from models.settings import get_settings

BUNDLED_PLAN = Path(__file__).resolve().parent.parent / "data" / "opptrappingsplan-barn-unge.yaml"
SPRING_2020 = [date(2020, 5, 4), date(2020, 5, 25), date(2020, 5, 29), date(2020, 6, 1)]
ROUND_LABEL = "Status per 1. juni 2020"
ROUND_AS_OF, ROUND_DEADLINE = date(2020, 6, 1), date(2020, 6, 5)
AFTER_THE_ROUND = [date(2020, 6, 2), date(2020, 6, 8)]
# What the demo's owners answer, item by item in turn (the form's fields, as people type them).
ANSWERS = [
    {"status": "on_track", "progress": "40", "done": "Arbeidsgruppe etablert.",
     "next_steps": "Høring i august."},
    {"status": "delayed", "progress": "20", "expected_completion": "2020-10-15",
     "risk_note": "Forsinket av koronapandemien.", "next_steps": "Ny framdriftsplan."},
    {"status": "completed", "progress": "100", "done": "Levert til departementet."},
    {"status": "at_risk", "progress": "10", "risk_note": "Mangler finansiering for 2021."},
]  # fmt: skip
LINK = re.compile(r"https?://\S+/r/\d+/\S+")


def run_demo(console: Console, fresh: bool = True) -> None:
    """The demo's story; its flow runs are short and local, so they run without Prefect's
    heartbeats (each run would wait up to a second for its heartbeat thread at its end)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        _story(console, fresh)


def _story(console: Console, fresh: bool) -> None:
    from flows.build_summary import run_demo_summary
    from flows.import_plan import import_plan
    from flows.rounds import close_status_round
    from flows.send_reminders import send_reminders
    from followup.overview_view import render_overview
    from notifications.outbox import read_outbox

    settings = get_settings()
    if fresh:
        reset(settings)
    console.print(Rule("1. The database"))
    before, after = upgrade(get_engine())
    console.print(f"schema migrated from {before or 'empty'} to {after} in {settings.data_dir}")

    console.print(Rule("2. Import the plan (Prefect flow import-plan)"))
    result = import_plan(str(BUNDLED_PLAN))
    console.print(result.summary(), markup=False, highlight=False)
    again = import_plan(str(BUNDLED_PLAN))
    console.print(f"imported again: {again.summary()}", markup=False, highlight=False)

    console.print(Rule("3. The plan as of 25 May 2020"))
    with session_scope() as session:
        overview = plan_overview(session, date(2020, 5, 25))
    render_overview(overview, console)

    console.print(Rule("4. Reminders through spring 2020 (Prefect flow send-reminders)"))
    remind(console, SPRING_2020)
    rerun = send_reminders(as_of=date(2020, 5, 29))
    console.print(f"29 May again (exactly once): {rerun.summary()}", markup=False, highlight=False)
    messages = read_outbox(settings.outbox_dir)
    if messages:
        first = messages[0]
        console.print(Rule(f"One of the messages, as the outbox holds it ({first.path.name})"))
        console.print(
            f"To: {first.to}\nSubject: {first.subject}\n\n{first.text}",
            markup=False,
            highlight=False,
        )
    with reply_app() as base_url:
        round_id = run_round(console, base_url)
    console.print(Rule("8. The ministry's summary of the round (Prefect flow build-summary)"))
    close_status_round(round_id=round_id, summary=False)
    console.print(f"round {round_id} closed: its links no longer take replies", highlight=False)
    run_demo_summary(console, round_id=round_id)
    console.print(
        f"\nThe outbox: {settings.outbox_dir} ({len(read_outbox(settings.outbox_dir))} "
        "messages); list it with `followup outbox`.",
        markup=False,
        highlight=False,
    )


def remind(console: Console, days: list[date]) -> None:
    """Run send-reminders for each day and show the messages it put in the outbox."""
    from flows.send_reminders import send_reminders
    from notifications.outbox import read_outbox

    folder = get_settings().outbox_dir
    for day in days:
        seen = len(read_outbox(folder))
        report = send_reminders(as_of=day)
        console.print(f"[bold]{report.summary()}[/bold]", highlight=False)
        for m in read_outbox(folder)[seen:]:
            console.print(f"   to {m.to}: {m.subject}", markup=False, highlight=False)


def run_round(console: Console, base_url: str) -> int:
    """Open the 1 June round, answer for every owner but one through the web form, chase the
    one missing, and show the round's status."""
    from flows.rounds import open_status_round
    from followup.round_view import print_round_status
    from notifications.outbox import read_outbox

    folder = get_settings().outbox_dir
    console.print(Rule(f"5. A reporting round: {ROUND_LABEL} (Prefect flow open-status-round)"))
    seen = len(read_outbox(folder))
    round_id = open_status_round(label=ROUND_LABEL, as_of=ROUND_AS_OF, deadline=ROUND_DEADLINE)
    invitations = [m for m in read_outbox(folder)[seen:] if LINK.search(m.text)]
    console.print(
        f"round {round_id} opened: {len(invitations)} invitations, each with a personal link; "
        f"reply by {ROUND_DEADLINE}",
        highlight=False,
    )

    console.print(Rule(f"6. Owners answer through the web form ({base_url})"))
    left_out = invitations[-1]
    with httpx.Client(timeout=30) as client:
        for n, message in enumerate(invitations[:-1]):
            link = LINK.search(message.text).group(0)
            items, receipt = answer_by_link(client, link, n)
            console.print(
                f"   {message.to}: {items} item(s) → HTTP {receipt}", markup=False, highlight=False
            )
    console.print(f"   {left_out.to}: does not answer", markup=False, highlight=False)

    console.print(Rule("7. Chasing who is missing (send-reminders), then who is missing"))
    remind(console, AFTER_THE_ROUND)
    print_round_status(console, round_id)
    return round_id


def answer_by_link(client: httpx.Client, link: str, n: int) -> tuple[int, int]:
    """Open a personal link and submit the form as a person would: every item, each with
    one of the demo's answers; returns (items answered, the receipt's HTTP status)."""
    form = client.get(link)
    form.raise_for_status()
    tokens = re.findall(r'name="item" value="([^"]+)"', form.text)
    fields: list[tuple[str, str]] = [("lang", "nb")]
    for i, token in enumerate(tokens):
        fields.append(("item", token))
        fields += [(f"{token}.{k}", v) for k, v in ANSWERS[(n + i) % len(ANSWERS)].items()]
    receipt = client.post(
        link,
        content=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=True,
    )
    if "/receipt/" not in str(receipt.url):
        raise RuntimeError(f"the form refused the demo's answers: {receipt.text[:500]}")
    return len(tokens), receipt.status_code


@contextmanager
def reply_app() -> Iterator[str]:
    """The reply web app on a free loopback port for the demo; links in messages point to it."""
    import socket

    from followup.up import start_web, stop_web

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    os.environ["FOLLOWUP_PUBLIC_URL"] = base_url
    get_settings.cache_clear()
    server = start_web("127.0.0.1", port)
    try:
        yield base_url
    finally:
        stop_web(server)


def reset(settings) -> None:
    """Start the demo from nothing: its own SQLite file and outbox only."""
    import shutil

    if settings.database_url is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.data_dir / 'followup.db'}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(settings.outbox_dir, ignore_errors=True)
