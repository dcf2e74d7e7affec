"""`make demo`: the story of the 2020 case on embedded defaults (SQLite, Prefect's local
mode, the outbox), told step by step in the terminal."""

from datetime import date
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from models.db import get_engine, session_scope
from models.migrate import upgrade
from models.overview import plan_overview
from models.settings import get_settings

BUNDLED_PLAN = Path(__file__).resolve().parent.parent / "data" / "opptrappingsplan-barn-unge.yaml"
SPRING_2020 = [
    date(2020, 5, 4),
    date(2020, 5, 25),
    date(2020, 5, 29),
    date(2020, 6, 1),
    date(2020, 6, 2),
    date(2020, 6, 9),
]


def run_demo(console: Console, fresh: bool = True) -> None:
    from flows.import_plan import import_plan
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
    seen = 0
    for day in SPRING_2020:
        report = send_reminders(as_of=day)
        console.print(f"[bold]{report.summary()}[/bold]", highlight=False)
        messages = read_outbox(settings.outbox_dir)
        for m in messages[seen:]:
            console.print(f"   to {m.to}: {m.subject}", markup=False, highlight=False)
        seen = len(messages)
    rerun = send_reminders(as_of=SPRING_2020[-1])
    console.print(f"the same day again: {rerun.summary()}", markup=False, highlight=False)
    if messages:
        first = messages[0]
        console.print(Rule(f"One of the messages, as the outbox holds it ({first.path.name})"))
        console.print(
            f"To: {first.to}\nSubject: {first.subject}\n\n{first.text}",
            markup=False,
            highlight=False,
        )
    console.print(
        f"\nThe outbox: {settings.outbox_dir} ({len(messages)} messages); "
        "list it with `followup outbox`.",
        markup=False,
        highlight=False,
    )


def reset(settings) -> None:
    """Start the demo from nothing: its own SQLite file and outbox only."""
    import shutil

    if settings.database_url is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.data_dir / 'followup.db'}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(settings.outbox_dir, ignore_errors=True)
