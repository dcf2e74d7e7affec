"""The Prefect UI's Resume form for a status reply: the same fields as the web form, one
group per item, generated for the person's own items. What comes back is validated by the
same rules as a web reply (models.replies.validate_item)."""

from datetime import date

from prefect.input import RunInput
from pydantic import Field, create_model

from models.items import Item
from models.replies import FIELDS, FieldError, ItemReply, validate_item
from models.reporting import ReportingRound
from models.status import LABELS, Status
from models.text import NAME_LENGTH
from notifications.reminder_digest import item_label

TITLES = {
    "nb": {
        "status": "status",
        "progress": "fremdrift i %",
        "done": "hva er gjort",
        "next_steps": "neste steg",
        "expected_completion": "ny forventet ferdigdato",
        "risk_note": "risiko (når gul eller rød)",
    },
    "nn": {
        "status": "status",
        "progress": "framdrift i %",
        "done": "kva er gjort",
        "next_steps": "neste steg",
        "expected_completion": "ny venta ferdigdato",
        "risk_note": "risiko (når gul eller raud)",
    },
    "en": {
        "status": "status",
        "progress": "progress %",
        "done": "what was done",
        "next_steps": "next steps",
        "expected_completion": "new expected completion",
        "risk_note": "risk (when amber or red)",
    },
}
TYPES = {
    "status": Status | None,
    "progress": int | None,
    "done": str | None,
    "next_steps": str | None,
    "expected_completion": date | None,
    "risk_note": str | None,
}


def field_name(index: int, name: str) -> str:
    return f"item_{index + 1}_{name}"


def reply_input_model(items: list[Item], language: str) -> type[RunInput]:
    """A RunInput class with fields for each of these items, titled in the person's language."""
    titles = TITLES[language]
    statuses = ", ".join(f"{s.value} = {LABELS[language][s]}" for s in Status)
    fields: dict = {
        "entered_by": (
            str | None,
            Field(
                None,
                max_length=NAME_LENGTH,
                title="Hvem svarer / who is answering",
                description="Navnet ditt, eller hvem du svarer for / your name",
            ),
        ),
        "recorded_via": (
            str | None,
            Field(
                None,
                title="(system)",
                description="Set by followup when the reply came by another way; leave empty",
            ),
        ),
    }
    for index, item in enumerate(items):
        label = f"{item_label(item, language)}: {item.title}"
        for name in FIELDS:
            extra = {"ge": 0, "le": 100} if name == "progress" else {}
            description = statuses if name == "status" else None
            fields[field_name(index, name)] = (
                TYPES[name],
                Field(
                    None, title=f"{label[:80]} · {titles[name]}", description=description, **extra
                ),
            )
    return create_model("StatusReply", __base__=RunInput, **fields)


def replies_from_input(
    reply: RunInput, items: list[Item], rnd: ReportingRound
) -> tuple[list[ItemReply], list[str]]:
    """The replies in a Resume form, or readable errors; items left without a status are
    not reported on."""
    replies, errors = [], []
    data = reply.model_dump()
    for index, item in enumerate(items):
        raw = {name: data.get(field_name(index, name)) for name in FIELDS}
        if all(value is None or value == "" for value in raw.values()):  # progress 0 counts
            continue
        as_text = {
            k: (
                v.value
                if isinstance(v, Status)
                else v.isoformat()
                if isinstance(v, date)
                else None
                if v is None
                else str(v)
            )
            for k, v in raw.items()
        }
        parsed, problems = validate_item(item.ref.token, as_text, rnd)
        if parsed:
            replies.append(parsed)
        errors += [_describe(index, p) for p in problems]
    if not replies and not errors:
        errors.append("no item has a status")
    return replies, errors


def _describe(index: int, problem: FieldError) -> str:
    return f"{field_name(index, problem.field)}: {problem.code}"
