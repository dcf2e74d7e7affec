"""The summary's two pictures as SVG, drawn here (no plotting library): the status chart and
the timeline. Every coloured mark has its status written beside it, and each picture has a
title and description for screen readers; the same numbers are in the tables."""

from datetime import date, timedelta
from html import escape

from models.rollup import priority_key

FILL = {"green": "#2e7d32", "amber": "#b8860b", "red": "#c62828", "grey": "#8a8a8a"}
TEXT = "#1a1a1a"
MUTED = "#555555"
FONT = "font-family:Arial,Helvetica,sans-serif"
TIMELINE_LIMIT = 120


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def status_chart(view) -> str:
    """Horizontal bars, one per status, with the status and the count written beside."""
    w = view.w
    rows = view.states
    top = max((count for *_, count in rows), default=0) or 1
    label_w, bar_w, row_h = 230, 380, 26
    height = row_h * len(rows) + 10
    width = label_w + bar_w + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="chart-title chart-desc" '
        f'style="{FONT};max-width:100%;height:auto">',
        f'<title id="chart-title">{_e(w["chart_title"])}</title>',
        f'<desc id="chart-desc">{_e(w["chart_desc"])} '
        + _e("; ".join(f"{label}: {count}" for _, label, _, count in rows))
        + "</desc>",
    ]
    for n, (_, label, rag, count) in enumerate(rows):
        y = 5 + n * row_h
        length = round(bar_w * count / top)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="14" '
            f'fill="{TEXT}">{_e(label)}</text>'
        )
        if length:
            parts.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{length}" height="{row_h - 8}" '
                f'fill="{FILL[rag]}"/>'
            )
        parts.append(
            f'<text x="{label_w + length + 6}" y="{y + 17}" font-size="14" font-weight="bold" '
            f'fill="{TEXT}">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _months(start: date, end: date) -> list[date]:
    """Tick dates: the first of each month, or of each quarter / year when the span is long."""
    span_months = (end.year - start.year) * 12 + end.month - start.month
    step = 1 if span_months <= 18 else 3 if span_months <= 48 else 12
    day = date(start.year, 1, 1)
    ticks = []
    while day <= end:
        if day >= start and (day.month - 1) % step == 0:
            ticks.append(day)
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return ticks


def timeline(view) -> tuple[str, str]:
    """Planned start–end bars for measures, diamonds for deadlines, the as-of date marked.
    Returns (svg, note); the svg is empty when nothing has dates."""
    from notifications.render import date_long

    w, rollup, language = view.w, view.rollup, view.language
    rows_by_token = {r.token: r for r in view.rows}
    dated = [s for s in rollup.items if s.planned_start or s.deadline]
    if not dated:
        return "", w["timeline_empty"]
    note = ""
    if len(dated) > TIMELINE_LIMIT:
        note = w["timeline_capped"].format(shown=TIMELINE_LIMIT, total=len(dated))
        keep = {s.token for s in sorted(dated, key=priority_key)[:TIMELINE_LIMIT]}
        dated = [s for s in dated if s.token in keep]
    days = [d for s in dated for d in (s.planned_start, s.deadline) if d] + [rollup.as_of]
    start, end = min(days), max(days)
    start = date(start.year, start.month, 1)
    end = end + timedelta(days=20)
    label_w, plot_w, row_h, head = 330, 560, 24, 34
    width = label_w + plot_w + 60
    height = head + row_h * len(dated) + 10
    total_days = max((end - start).days, 1)

    def x(day: date) -> float:
        return round(label_w + plot_w * (day - start).days / total_days, 1)

    desc = w["timeline_desc"].format(
        n=len(dated),
        start=date_long(start, language),
        end=date_long(end, language),
        as_of=view.as_of,
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="timeline-title timeline-desc" '
        f'style="{FONT};max-width:100%;height:auto">',
        f'<title id="timeline-title">{_e(w["timeline"])}</title>',
        f'<desc id="timeline-desc">{_e(desc)}</desc>',
    ]
    for tick in _months(start, end):
        parts.append(
            f'<line x1="{x(tick)}" y1="{head - 6}" x2="{x(tick)}" y2="{height - 5}" '
            f'stroke="#dddddd"/>'
            f'<text x="{x(tick) + 2}" y="{head - 12}" font-size="11" fill="{MUTED}">'
            f"{tick.month:02d}.{tick.year}</text>"
        )
    for n, s in enumerate(dated):
        r = rows_by_token[s.token]
        y = head + n * row_h
        label = f"{r.label} · {r.status}"
        if len(label) > 46:
            label = label[:45] + "…"
        parts.append(
            f'<text x="6" y="{y + 16}" font-size="12" fill="{TEXT}">{_e(label)}'
            f"<title>{_e(r.label)}: {_e(r.title)} ({_e(r.status)})</title></text>"
        )
        fill = FILL[s.rag]
        if s.planned_start and s.deadline and s.planned_start <= s.deadline:
            x1, x2 = x(s.planned_start), x(s.deadline)
            parts.append(
                f'<rect x="{x1}" y="{y + 5}" width="{max(x2 - x1, 3)}" height="{row_h - 10}" '
                f'rx="3" fill="{fill}"/>'
            )
        else:
            day = s.deadline or s.planned_start
            cx, cy = x(day), y + row_h / 2
            parts.append(
                f'<path d="M{cx} {cy - 7} L{cx + 7} {cy} L{cx} {cy + 7} L{cx - 7} {cy} Z" '
                f'fill="{fill}"/>'
            )
    ax = x(rollup.as_of)
    parts.append(
        f'<line x1="{ax}" y1="{head - 4}" x2="{ax}" y2="{height - 5}" stroke="#000000" '
        f'stroke-width="2" stroke-dasharray="5 3"/>'
        f'<text x="{min(ax + 4, width - 150)}" y="12" font-size="12" font-weight="bold" '
        f'fill="{TEXT}">{_e(w["as_of"])} {_e(view.as_of)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts), note
