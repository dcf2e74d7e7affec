"""The reminder log in the terminal."""

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from models.reminder_log import LogRow
from notifications.channels import shown_channel


def render_reminder_log(rows: list[LogRow], console: Console) -> None:
    table = Table(title=f"Reminders ({len(rows)})", title_justify="left", expand=True)
    for name in ("Day", "Item", "Stage", "To", "Channel", "Outcome", "Sent (UTC)"):
        table.add_column(name, overflow="fold")
    for r in rows:
        outcome = r.state + (f" ×{r.attempts}" if r.attempts > 1 else "")
        if r.error:
            outcome += f": {r.error}"
        table.add_row(  # as recorded, not Rich markup: an error may read "[Errno 111] ..."
            str(r.as_of),
            escape(r.item),
            r.stage,
            escape(f"{r.recipient} ({r.role})"),
            escape(shown_channel(r.channel) if r.channel else "–"),
            escape(outcome),
            r.sent_at.strftime("%Y-%m-%d %H:%M") if r.sent_at else "–",
        )
    console.print(table)
