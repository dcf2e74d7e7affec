"""The status vocabulary: what each status means, its colour, and whether it closes an item.

No official vocabulary exists in Norwegian state follow-up; this is the practical one from
the domain notes. Values are stored as text so that unknown values in old data survive
and can be shown as such.
"""

from enum import StrEnum


class Status(StrEnum):
    NOT_STARTED = "not_started"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    DELAYED = "delayed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Rag(StrEnum):
    """Red/amber/green; GREY when there is no status to colour."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    GREY = "grey"


LABELS: dict[str, dict[Status, str]] = {
    "nb": {
        Status.NOT_STARTED: "ikke startet",
        Status.ON_TRACK: "i rute",
        Status.AT_RISK: "risiko for forsinkelse",
        Status.DELAYED: "forsinket",
        Status.COMPLETED: "fullført",
        Status.CANCELLED: "avlyst/utgått",
    },
    "nn": {
        Status.NOT_STARTED: "ikkje starta",
        Status.ON_TRACK: "i rute",
        Status.AT_RISK: "risiko for forseinking",
        Status.DELAYED: "forseinka",
        Status.COMPLETED: "fullført",
        Status.CANCELLED: "avlyst/utgått",
    },
    "en": {
        Status.NOT_STARTED: "not started",
        Status.ON_TRACK: "on track",
        Status.AT_RISK: "at risk of delay",
        Status.DELAYED: "delayed",
        Status.COMPLETED: "completed",
        Status.CANCELLED: "cancelled",
    },
}

NO_STATUS_LABEL = {"nb": "ingen status", "nn": "ingen status", "en": "no status"}

RAG_OF: dict[Status, Rag] = {
    Status.NOT_STARTED: Rag.GREY,
    Status.ON_TRACK: Rag.GREEN,
    Status.AT_RISK: Rag.AMBER,
    Status.DELAYED: Rag.RED,
    Status.COMPLETED: Rag.GREEN,
    Status.CANCELLED: Rag.GREY,
}

CLOSED = frozenset({Status.COMPLETED, Status.CANCELLED})


def parse_status(value: str | None) -> Status | None:
    """The Status for a stored value, or None when it is missing or unknown."""
    try:
        return Status(value) if value else None
    except ValueError:
        return None


def is_closed(value: str | None) -> bool:
    """Whether an item with this status needs no more reminders."""
    return parse_status(value) in CLOSED


def status_label(value: str | None, language: str = "nb") -> str:
    """The status as a reader sees it; unknown stored values are shown as they are."""
    status = parse_status(value)
    if status is None:
        return value or NO_STATUS_LABEL[language]
    return LABELS[language][status]
