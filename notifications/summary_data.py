"""The summary's item table as CSV and JSON, for archiving and reuse.

One row per measure and assignment with stable codes (status, colour, change) beside the
words in the document's language. Texts are kept whole here (the documents shorten them).
In the CSV a text starting with = + - @ gets a leading apostrophe so that a spreadsheet
shows it instead of running it as a formula; the JSON keeps every text exactly."""

import csv
import json
from pathlib import Path
from typing import Any

from models.rollup import RAGS, STATES, Group, ItemStatus

COLUMNS = [
    "item",
    "kind",
    "label",
    "title",
    "goal",
    "lead",
    "shared",
    "ministries",
    "status",
    "status_code",
    "rag",
    "deadline",
    "effective_deadline",
    "days_late",
    "planned_start",
    "priority",
    "progress",
    "previous_status",
    "change",
    "asked",
    "asked_contact",
    "replied_in_round",
    "reported_by",
    "reported_at",
    "done",
    "next_steps",
    "risk_note",
    "expected_completion",
    "letter",
]


def item_record(s: ItemStatus, status_text: str) -> dict[str, Any]:
    reply = s.reply
    return {
        "item": s.token,
        "kind": s.kind.value,
        "label": s.item.label,
        "title": s.item.title,
        "goal": s.goal_number,
        "lead": s.lead.key if s.lead else None,
        "shared": [o.key for o in s.shared],
        "ministries": s.ministries,
        "status": status_text,
        "status_code": s.state,
        "rag": s.rag,
        "deadline": s.deadline,
        "effective_deadline": s.effective_deadline,
        "days_late": s.days_late,
        "planned_start": s.planned_start,
        "priority": s.item.priority,
        "progress": reply.progress if reply else None,
        "previous_status": s.previous_status,
        "change": s.change,
        "asked": s.asked,
        "asked_contact": s.asked_contact,
        "replied_in_round": s.replied_in_round,
        "reported_by": reply.contact if reply else None,
        "reported_at": reply.submitted_at if reply else None,
        "done": reply.done if reply else None,
        "next_steps": reply.next_steps if reply else None,
        "risk_note": reply.risk_note if reply else None,
        "expected_completion": reply.expected_completion if reply else None,
        "letter": s.item.letter,
    }


def records(view) -> list[dict[str, Any]]:
    texts = {r.token: r.status for r in view.rows}
    return [item_record(s, texts[s.token]) for s in view.rollup.items]


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = "; ".join(map(str, value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_csv(view, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel reads UTF-8
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for record in records(view):
            writer.writerow([_csv_value(record[c]) for c in COLUMNS])
    tmp.replace(path)


def _group(g: Group) -> dict[str, Any]:
    return {
        "key": g.key,
        "name": g.name,
        "lead": g.lead,
        "shared": g.shared,
        "total": g.counts.total,
        "by_state": g.counts.by_state,
        "by_rag": g.counts.by_rag,
        "overdue": g.counts.overdue,
    }


def summary_record(view) -> dict[str, Any]:
    r = view.rollup
    return {
        "plan": {"key": r.plan_key, "title": r.plan_title, "reference": r.plan_reference},
        "round": (
            {
                "id": r.round.id,
                "label": r.round.label,
                "as_of": r.round.as_of,
                "deadline": r.round.deadline,
                "state": r.round.state,
            }
            if r.round
            else None
        ),
        "previous_round": r.previous_round.label if r.previous_round else None,
        "as_of": r.as_of,
        "language": view.language,
        "states": list(STATES),
        "rags": list(RAGS),
        "asked": r.asked,
        "replied": r.replied,
        "reply_rate": r.reply_rate,
        "totals": {
            "total": r.totals.total,
            "by_state": r.totals.by_state,
            "by_rag": r.totals.by_rag,
            "overdue": r.totals.overdue,
        },
        "worsened": [s.token for s in r.worsened],
        "improved": [s.token for s in r.improved],
        "missing": [
            {
                "item": m.item.token,
                "asked": m.asked,
                "reminders": [
                    {"on": e.on, "what": e.what, "to": e.to, "outcome": e.outcome}
                    for e in m.reminders
                ],
            }
            for m in r.missing
        ],
        "priority": [s.token for s in r.priority],
        "by_goal": [_group(g) for g in r.by_goal],
        "by_ministry": [_group(g) for g in r.by_ministry],
        "by_agency": [_group(g) for g in r.by_agency],
        "notes": r.notes,
        "items": records(view),
    }


def write_json(view, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    text = json.dumps(summary_record(view), ensure_ascii=False, indent=1, default=_default)
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
