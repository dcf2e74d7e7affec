"""The plan overview in the terminal."""

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from models.overview import Overview, Row
from models.status import status_label


def _deadline(row: Row) -> Text:
    if row.item.deadline is None:
        return Text("–")
    text = Text(row.item.deadline.isoformat())
    if row.deadline_note:
        text.append(f"\n({row.deadline_note})", style="dim")
    if row.overdue:
        text.append(f"\nOVERDUE {-row.days_left} d", style="bold red")
    elif row.days_left == 0:
        text.append("\ndue today", style="bold yellow")
    elif row.days_left is not None and 0 < row.days_left <= 28:
        text.append(f"\n{row.days_left} d left", style="yellow")
    return text


def render_overview(overview: Overview, console: Console) -> None:
    plan = overview.plan
    console.print(Text(plan.title, style="bold"))
    console.print(
        f"{plan.reference or ''}  ·  period {plan.period_start} – {plan.period_end}  ·  "
        f"coordinator {overview.coordinator or '–'}  ·  as of {overview.as_of}",
        markup=False,
        highlight=False,
    )
    rows = overview.rows
    console.print(
        f"{sum(1 for r in rows if r.item.number is not None)} measures, "
        f"{len(overview.assignments)} assignments, {len(overview.overdue)} overdue",
        highlight=False,
    )
    for section in overview.sections:
        if not section.rows:
            continue
        title = "Without a goal"
        if section.number:
            title = f"Goal {section.number}: {escape(section.title)}"
        table = _table(title, "No.", "Measure")
        for r in section.rows:
            who = Text(f"{r.lead or 'no lead organisation'}", style="bold" if r.lead else "red")
            if r.shared:
                who.append(f" with {', '.join(r.shared)}")
            who.append(f" · {r.owner}" if r.owner else " · no owner", style="dim")
            table.add_row(
                r.item.label,
                Text(r.item.title) + Text("\n") + who,
                status_label(r.status),
                _deadline(r),
            )
        console.print(table)
    if overview.assignments:
        table = _table("Assignments", "Key", "Assignment")
        for r in overview.assignments:
            detail = Text(
                f"{r.item.letter} · to {r.lead or '–'} · {r.owner or 'no owner'}", style="dim"
            )
            table.add_row(
                r.item.key,
                Text(r.item.title) + Text("\n") + detail,
                status_label(r.status),
                _deadline(r),
            )
        console.print(table)


def _table(title: str, ident: str, what: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", expand=True)
    table.add_column(ident, justify="right", overflow="fold", max_width=32)
    table.add_column(what, ratio=1)
    table.add_column("Status", max_width=14)
    table.add_column("Deadline", max_width=24)
    return table
