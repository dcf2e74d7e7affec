"""Status replies: validating what a person sends, and recording it as a case document.

Every submission is kept whole (append-only); the latest reply counts. A person can only
report on the items they were asked about in the round, and only while it is open."""

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session, select

from models.items import ItemKind, ItemRef
from models.reporting import ReplyChannel, ReportingRound, RoundState, StatusReport
from models.rounds import scope_of
from models.status import Status

TEXT_LIMITS = {"done": 4000, "next_steps": 4000, "risk_note": 2000}
NEEDS_RISK_NOTE = {Status.AT_RISK, Status.DELAYED}
NEEDS_NEW_DATE = {Status.DELAYED}
FIELDS = ("status", "progress", "done", "next_steps", "expected_completion", "risk_note")


class ReplyRefused(PermissionError):
    """A reply that may not be recorded: round closed, or an item that is not theirs."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass
class ItemReply:
    item: str  # ItemRef.token
    status: Status
    progress: int | None = None
    done: str | None = None
    next_steps: str | None = None
    expected_completion: date | None = None
    risk_note: str | None = None


@dataclass
class FieldError:
    field: str
    code: str  # a key into the reader's strings: "required", "progress_range", …
    params: dict = field(default_factory=dict)


def validate_item(
    item: str, raw: dict[str, str | None], rnd: ReportingRound
) -> tuple[ItemReply | None, list[FieldError]]:
    """Check one item's fields as typed (strings); return the reply or what is wrong."""
    errors: list[FieldError] = []

    def text(name: str) -> str | None:
        value = (raw.get(name) or "").strip()
        if len(value) > TEXT_LIMITS[name]:
            errors.append(
                FieldError(name, "too_long", {"limit": TEXT_LIMITS[name], "length": len(value)})
            )
        return value or None

    status = None
    status_raw = (raw.get("status") or "").strip()
    if not status_raw:
        errors.append(FieldError("status", "required"))
    else:
        try:
            status = Status(status_raw)
        except ValueError:
            errors.append(FieldError("status", "status_unknown"))
    progress = None
    progress_raw = (raw.get("progress") or "").strip().rstrip("%").strip()
    if progress_raw:
        if not progress_raw.isdigit():
            errors.append(FieldError("progress", "progress_number"))
        elif not 0 <= int(progress_raw) <= 100:
            errors.append(FieldError("progress", "progress_range"))
        else:
            progress = int(progress_raw)
    expected = None
    expected_raw = (raw.get("expected_completion") or "").strip()
    latest_allowed = rnd.as_of + timedelta(days=366 * 10)
    if expected_raw:
        try:
            expected = date.fromisoformat(expected_raw)
        except ValueError:
            errors.append(FieldError("expected_completion", "date_format"))
        else:
            if not rnd.as_of <= expected <= latest_allowed:
                errors.append(
                    FieldError(
                        "expected_completion",
                        "date_range",
                        {"start": rnd.as_of, "end": latest_allowed},
                    )
                )
    done, next_steps, risk_note = text("done"), text("next_steps"), text("risk_note")
    if status in NEEDS_NEW_DATE and expected is None and not expected_raw:
        errors.append(FieldError("expected_completion", "expected_required"))
    if status in NEEDS_RISK_NOTE and not risk_note:
        errors.append(FieldError("risk_note", "risk_required"))
    if errors:
        return None, errors
    return ItemReply(item, status, progress, done, next_steps, expected, risk_note), []


def record_reply(
    session: Session,
    rnd: ReportingRound,
    contact_id: int,
    replies: list[ItemReply],
    *,
    channel: ReplyChannel,
    entered_by: str | None = None,
    submission: str | None = None,
) -> list[StatusReport]:
    """Append the replies to the history (all or nothing, in the caller's transaction).

    Recording the same ``submission`` again returns what was recorded the first time."""
    if rnd.state != RoundState.OPEN:
        raise ReplyRefused(f"round {rnd.label} is closed", "closed")
    mine = {r.item for r in scope_of(session, rnd.id, contact_id)}
    if not mine:
        raise ReplyRefused("this person was not asked in this round", "not_asked")
    foreign = [r.item for r in replies if r.item not in mine]
    if foreign:
        raise ReplyRefused(f"not among this person's items: {', '.join(foreign)}", "not_yours")
    if not replies:
        raise ReplyRefused("the reply holds no item", "empty")
    if submission:
        earlier = session.exec(
            select(StatusReport).where(StatusReport.submission == submission)
        ).all()
        if earlier:
            return list(earlier)
    submission = submission or uuid.uuid4().hex
    rows = []
    for reply in replies:
        ref = ItemRef.parse(reply.item)
        rows.append(
            StatusReport(
                plan_id=rnd.plan_id,
                round_id=rnd.id,
                contact_id=contact_id,
                measure_id=ref.id if ref.kind == ItemKind.MEASURE else None,
                assignment_id=ref.id if ref.kind == ItemKind.ASSIGNMENT else None,
                status=reply.status.value,
                progress=reply.progress,
                done=reply.done,
                next_steps=reply.next_steps,
                expected_completion=reply.expected_completion,
                risk_note=reply.risk_note,
                channel=channel,
                entered_by=entered_by,
                submission=submission,
                item=reply.item,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def latest_in_round(
    session: Session, rnd: ReportingRound, contact_id: int
) -> dict[str, StatusReport]:
    """This person's latest report per item, in this round or earlier (to pre-fill a form)."""
    items = [r.item for r in scope_of(session, rnd.id, contact_id)]
    refs = [ItemRef.parse(i) for i in items]
    measure_ids = [r.id for r in refs if r.kind == ItemKind.MEASURE]
    assignment_ids = [r.id for r in refs if r.kind == ItemKind.ASSIGNMENT]
    reports = session.exec(
        select(StatusReport)
        .where(
            (StatusReport.measure_id.in_(measure_ids))
            | (StatusReport.assignment_id.in_(assignment_ids))
        )
        .order_by(StatusReport.id)
    ).all()
    latest: dict[str, StatusReport] = {}
    for report in reports:
        token = (
            ItemRef(ItemKind.MEASURE, report.measure_id)
            if report.measure_id
            else ItemRef(ItemKind.ASSIGNMENT, report.assignment_id)
        ).token
        latest[token] = report
    return latest
