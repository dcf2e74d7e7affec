"""Reminder rules over the database: who is due which reminder today, claiming each one
exactly once, and queueing the digest that carries them."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple, Protocol

from sqlalchemy import String, bindparam, cast, insert, literal, text, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from models.calendar import is_working_day
from models.db import driver_date, driver_execute, driver_timestamp, fast_insert, reserve_ids
from models.items import Item, is_open, latest_reports, load_items
from models.messages import (
    LAST_ERROR_LENGTH,
    Delivery,
    DeliveryState,
    Digest,
    DigestKind,
    RecipientRole,
    Reminder,
)
from models.plan import Contact, Plan, PlanRole, PlanRoleKind
from models.reporting import StatusReport
from models.schedule import Stage, current_stage, policy_for
from models.types import utcnow


@dataclass(frozen=True)
class DueReminder:
    item: Item
    stage: Stage
    contact_id: int
    role: RecipientRole


@dataclass
class PlanContext:
    """What reminders of one plan are judged with, loaded once per run."""

    plan: Plan
    items: list[Item]
    latest: dict
    contacts: dict[int, Contact]
    coordinator_id: int | None
    first_contact_of_org: dict[int, int]

    def status_of(self, item: Item) -> StatusReport | None:
        return self.latest.get(item.ref)


def load_context(session: Session, plan: Plan, items: bool = True) -> PlanContext:
    """The plan's contacts and coordinator and, unless ``items`` is false, its items and
    their latest reports (a hundred thousand rows in a large plan: skip them when a step
    only addresses people, like the coordinator's notice of failed deliveries)."""
    contacts = {
        c.id: c for c in session.exec(select(Contact).where(Contact.plan_id == plan.id)).all()
    }
    first_of_org: dict[int, int] = {}
    for c in sorted(contacts.values(), key=lambda c: c.id):
        if c.organisation_id is not None:
            first_of_org.setdefault(c.organisation_id, c.id)
    coordinator = session.exec(
        select(PlanRole.contact_id).where(
            PlanRole.plan_id == plan.id, PlanRole.role == PlanRoleKind.COORDINATOR
        )
    ).first()
    return PlanContext(
        plan=plan,
        items=load_items(session, plan.id) if items else [],
        latest=latest_reports(session, plan.id) if items else {},
        contacts=contacts,
        coordinator_id=coordinator,
        first_contact_of_org=first_of_org,
    )


def owner_of(ctx: PlanContext, item: Item) -> int | None:
    """The item's owner, else the first contact of its responsible organisation."""
    if item.owner_id is not None:
        return item.owner_id
    return ctx.first_contact_of_org.get(item.organisation_id)


def due_reminders(ctx: PlanContext, as_of: date) -> list[DueReminder]:
    """Every reminder that is due on ``as_of`` (before claims are checked).

    Nothing is due on a day off: reminders for days off were moved to the working day before.
    """
    if not is_working_day(as_of):
        return []
    due: list[DueReminder] = []
    plan_policy = policy_for(ctx.plan.reminder_policy)
    for item in ctx.items:
        if item.deadline is None or not is_open(item, ctx.latest):
            continue
        policy = (
            policy_for(item.reminder_policy, ctx.plan.reminder_policy)
            if item.reminder_policy
            else plan_policy
        )
        stage = current_stage(item.deadline, policy, as_of)
        if stage is None:
            continue
        owner = owner_of(ctx, item)
        recipients: dict[int, RecipientRole] = {}
        if owner is not None:
            recipients[owner] = RecipientRole.OWNER
        elif ctx.coordinator_id is not None:
            recipients[ctx.coordinator_id] = RecipientRole.UNOWNED
        if stage.overdue and policy.escalate:
            for copied in (ctx.coordinator_id, item.issuer_contact_id):
                if copied is not None:
                    recipients.setdefault(copied, RecipientRole.ESCALATION)
        due += [DueReminder(item, stage, cid, role) for cid, role in recipients.items()]
    return due


def lock_plan(session: Session, plan_id: int) -> None:
    """Serialise reminder planning per plan: one run composes a person's digest, not two.

    SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL needs a lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 7_000_000 + plan_id})


def unclaimed(session: Session, plan_id: int, due: list[DueReminder]) -> list[DueReminder]:
    """The due reminders not claimed before (one per item, stage and recipient).

    Call it holding the plan's lock (lock_plan), and claim what it returns in the same
    transaction with queue_digests. The unique key (item, stage, recipient) stays the last
    word: a duplicate that got past the lock fails the transaction rather than being sent."""
    if not due:
        return []
    # A stage's claim is made on or after the day it is sent, so older claims cannot match.
    since = min(d.stage.send_on for d in due)
    existing = {
        tuple(row)
        for row in session.execute(
            select(Reminder.item, Reminder.stage, Reminder.contact_id).where(
                Reminder.plan_id == plan_id, Reminder.as_of >= since
            )
        )
    }
    if not existing:  # the day's first run: all of them (due_reminders names each once)
        return list(due)
    new: dict[tuple, DueReminder] = {}
    for d in due:
        key = (d.item.ref.token, d.stage.name, d.contact_id)
        if key not in existing:
            new.setdefault(key, d)
    return list(new.values())


def undelivered_unreported(session: Session, plan_id: int) -> list[tuple[Delivery, Digest]]:
    """Deliveries given up on that the coordinator has not been told about yet."""
    told = select(Reminder.item).where(Reminder.plan_id == plan_id, Reminder.stage == "given-up")
    rows = session.exec(
        select(Delivery, Digest)
        .join(Digest, Digest.id == Delivery.digest_id)
        .where(
            Digest.plan_id == plan_id,
            Digest.kind != DigestKind.DELIVERY_FAILURE,
            Delivery.state == DeliveryState.GIVEN_UP,
            (literal("delivery:", String) + cast(Delivery.id, String)).not_in(told),
        )
        .order_by(Delivery.id)
    ).all()
    return list(rows)


class Claim(NamedTuple):
    """One reminder a digest carries: the item, the stage, and why the recipient gets it.
    (A tuple: a large run makes a hundred thousand, at half the cost of a dataclass.)"""

    item: str
    stage: str
    role: RecipientRole
    due_on: date


@dataclass
class NewDigest:
    """A rendered message for one person, with the reminders it claims."""

    contact: Contact
    kind: DigestKind
    subject: str
    text: str
    html: str
    claims: Iterable[Claim] = field(default_factory=list)  # read once, when queued
    channels: list[str] | None = None  # default: the contact's own
    attachments: list[str] | None = None


CLAIM_COLUMNS = (
    "plan_id",
    "item",
    "stage",
    "contact_id",
    "role",
    "due_on",
    "as_of",
    "digest_id",
    "created_at",
)


class Digests(Protocol):
    """Messages to queue, how many known before they are read: a list, or a collection
    that renders each message as it is read."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[NewDigest]: ...


def queue_digests(session: Session, plan_id: int, as_of: date, digests: Digests) -> int:
    """Store rendered messages with their claims and queue one delivery per channel of each
    recipient, in the caller's transaction, with a bulk statement per table. A recipient with no
    channel gets one delivery given up on at once, saying so: visible, not silent.

    ``digests`` may be rendered as they are read: the claims of each are stored while the
    next is rendered (the digests themselves after all claims: the claims' foreign key is
    checked at commit)."""
    if not digests:
        return 0
    connection = session.connection()  # core statements: no ORM bookkeeping per row
    now = utcnow()
    ids = reserve_ids(connection, Digest.__table__, len(digests))
    stamp = str(driver_timestamp(connection, now))  # text: what COPY takes cheapest
    day = driver_date(as_of)
    read: list[NewDigest] = []

    def claims() -> Iterator[tuple]:
        days: dict[date, object] = {}  # the few distinct stage dates, converted once each
        for did, d in zip(ids, digests, strict=True):
            read.append(d)
            for c in d.claims:
                due_on = days.get(c.due_on)
                if due_on is None:
                    due_on = days[c.due_on] = driver_date(c.due_on)
                yield (
                    plan_id,
                    c.item,
                    c.stage,
                    d.contact.id,
                    c.role.value,
                    due_on,
                    day,
                    did,
                    stamp,
                )

    fast_insert(connection, Reminder.__table__, CLAIM_COLUMNS, claims())
    connection.execute(
        insert(Digest),
        [
            dict(
                id=did,
                plan_id=plan_id,
                contact_id=d.contact.id,
                kind=d.kind,
                as_of=as_of,
                language=d.contact.language,
                subject=d.subject,
                text=d.text,
                html=d.html,
                attachments=d.attachments,
                created_at=now,
            )
            for did, d in zip(ids, read, strict=True)
        ],
    )
    deliveries = []
    for did, d in zip(ids, read, strict=True):
        channels = list(dict.fromkeys(d.contact.channels if d.channels is None else d.channels))
        deliveries += [
            dict(digest_id=did, channel=c, state=DeliveryState.PENDING, last_error=None)
            for c in channels
        ] or [
            dict(
                digest_id=did,
                channel="(none)",
                state=DeliveryState.GIVEN_UP,
                last_error="the contact has no address or channel",
            )
        ]
    connection.execute(
        insert(Delivery),
        [dict(r, attempts=0, next_attempt_at=now, created_at=now) for r in deliveries],
    )
    return len(ids)


def _sendable(now: datetime):
    return (
        (Delivery.state.in_([DeliveryState.PENDING, DeliveryState.FAILED]))
        & (Delivery.next_attempt_at <= now)
    ) | ((Delivery.state == DeliveryState.SENDING) & (Delivery.lease_until < now))


def deliveries_to_send(session: Session, now: datetime, limit: int | None = None) -> list[int]:
    """Deliveries waiting to be sent now: new, failed and due for a retry, or left 'sending'
    by a run that died (its lease has run out)."""
    query = select(Delivery.id).where(_sendable(now)).order_by(Delivery.id)
    if limit:
        query = query.limit(limit)
    return list(session.exec(query).all())


def lease(
    session: Session, delivery_ids: list[int], now: datetime, seconds: int = 600
) -> list[int]:
    """Take deliveries for sending; returns those taken (not held by another run, not done)."""
    if not delivery_ids:
        return []
    taken = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids), _sendable(now))
        .values(state=DeliveryState.SENDING, lease_until=now + timedelta(seconds=seconds))
        .returning(Delivery.id)
    ).scalars()
    return sorted(taken)


@dataclass(frozen=True)
class Outgoing:
    """What sending one delivery needs, read in one query for a whole batch."""

    delivery_id: int
    channel: str
    attempts: int
    recipient: str
    subject: str
    text: str
    html: str
    attachments: tuple[str, ...] = ()  # file paths sent with the message (the summary's)


def outgoing(session: Session, delivery_ids: list[int]) -> list[Outgoing]:
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.channel,
            Delivery.attempts,
            Contact.name,
            Digest.subject,
            Digest.text,
            Digest.html,
            Digest.attachments,
        )
        .join(Digest, Digest.id == Delivery.digest_id)
        .join(Contact, Contact.id == Digest.contact_id)
        .where(Delivery.id.in_(delivery_ids))
        .order_by(Delivery.id)
    ).all()
    return [Outgoing(*row[:-1], attachments=tuple(row[-1] or ())) for row in rows]


def record_outcome(
    connection: Connection,
    delivery: Outgoing,
    *,
    ok: bool,
    now: datetime,
    error: str | None = None,
    permanent: bool = False,
    max_attempts: int = 3,
    backoff: timedelta = timedelta(hours=1),
) -> DeliveryState:
    """Mark a delivery sent, or failed with a later retry, or given up after max_attempts."""
    attempts = delivery.attempts + 1
    values: dict = dict(attempts=attempts, lease_until=None)
    if ok:
        values.update(state=DeliveryState.SENT, sent_at=now, last_error=None)
    elif permanent or attempts >= max_attempts:
        values.update(state=DeliveryState.GIVEN_UP, last_error=error)
    else:
        values.update(
            state=DeliveryState.FAILED,
            last_error=error,
            next_attempt_at=now + backoff * (2 ** (attempts - 1)),
        )
    state = values["state"]
    values["state"] = state.value
    if values["last_error"] is not None:
        values["last_error"] = values["last_error"][:LAST_ERROR_LENGTH]
    for name in ("sent_at", "next_attempt_at"):
        if name in values:
            values[name] = driver_timestamp(connection, values[name])
    driver_execute(
        connection,
        _outcome_update(tuple(values)),
        {f"new_{name}": value for name, value in values.items()}
        | {"delivery_id": delivery.delivery_id},
    )
    return state


@lru_cache
def _outcome_update(columns: tuple[str, ...]):
    """UPDATE delivery SET <columns> WHERE id = :delivery_id, built once per set of columns
    (run once per message, through driver_execute)."""
    table = Delivery.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("delivery_id"))
        .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns})
    )


def plans(session: Session) -> list[Plan]:
    return list(session.exec(select(Plan).order_by(Plan.key)).all())
