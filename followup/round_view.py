"""The round status table coordinators read: who has answered, who is missing, what
happened to the round."""

from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlmodel import select

from models.db import session_scope
from models.reporting import ReportingRound, RoundEvent
from models.rounds import progress
from models.settings import get_settings


def print_round_status(out: Console, round_id: int) -> None:
    """Per person: items answered of those asked, the last reply (local time), and the
    round's log (opened, extended, closed…)."""
    zone = ZoneInfo(get_settings().timezone)
    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        people = progress(session, rnd)
        events = session.exec(
            select(RoundEvent).where(RoundEvent.round_id == round_id).order_by(RoundEvent.id)
        ).all()
        table = Table(
            title=f"Round {rnd.id}: {escape(rnd.label)} ({rnd.state.value}), as of {rnd.as_of},"
            f" reply by {rnd.deadline}",
            title_justify="left",
        )
        for name in ("Person", "Answered", f"Last reply ({zone.key})", ""):
            table.add_column(name)
        for p in people:
            table.add_row(
                escape(p.contact.name),  # names and labels as typed, not Rich markup
                f"{p.replied} of {p.expected}",
                f"{p.last_reply_at.astimezone(zone):%Y-%m-%d %H:%M}" if p.last_reply_at else "–",
                "complete" if p.complete else "[red]MISSING[/red]",
            )
        out.print(table)
        missing = [p.contact.name for p in people if not p.complete]
        out.print(
            f"{len(people) - len(missing)} of {len(people)} people complete; missing: "
            f"{', '.join(missing) or 'nobody'}",
            markup=False,
            highlight=False,
        )
        for e in events:
            out.print(
                f"  {e.at.astimezone(zone):%Y-%m-%d %H:%M} {e.event} {e.detail or ''} "
                f"({e.by or '?'})",
                markup=False,
                highlight=False,
            )
