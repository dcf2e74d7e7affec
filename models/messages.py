"""What was sent: reminder claims, the digests that carry them, and their deliveries.

A reminder is *claimed* (a row under a unique key: item, stage, recipient) in the same
transaction that composes its digest and queues one delivery per channel. Sending happens
afterwards and only moves a delivery from pending to sent or failed. So a run that dies
after claiming leaves pending deliveries that the next run sends, and a second run finds
the claims taken and sends nothing twice."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import enum_type
from models.language import Language
from models.types import UTCDateTime, utcnow


class RecipientRole(StrEnum):
    OWNER = "owner"
    ESCALATION = "escalation"  # copied because the item is overdue
    UNOWNED = "unowned"  # the coordinator, because the item has no owner to remind


class DigestKind(StrEnum):
    REMINDER = "reminder"
    DELIVERY_FAILURE = "delivery_failure"
    ROUND_INVITATION = "round_invitation"
    MISSING_REPLIES = "missing_replies"
    SUMMARY = "summary"


LAST_ERROR_LENGTH = 2000


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # will be tried again
    GIVEN_UP = "given_up"  # the coordinator has been told


class Digest(SQLModel, table=True):
    """One message to one person: the rendered subject, text and HTML, kept as sent."""

    # What a claim's foreign key points at: the digest with its plan and person.
    __table_args__ = (Index("uq_digest_recipient", "id", "plan_id", "contact_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    kind: DigestKind = Field(sa_type=enum_type(DigestKind))
    as_of: date = Field(index=True)
    language: Language = Field(sa_type=enum_type(Language))
    subject: str = Field(max_length=400)
    text: str = Field(sa_type=Text)
    html: str = Field(sa_type=Text)
    attachments: list[str] | None = Field(default=None, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Reminder(SQLModel, table=True):
    """The claim on one reminder: at most one row per item, stage and recipient, ever."""

    __table_args__ = (
        UniqueConstraint("item", "stage", "contact_id", name="uq_reminder_once"),
        # The plan and the person are the digest's: one foreign key checks all three (a
        # check per key and claim was half the time of storing a large run's claims).
        ForeignKeyConstraint(
            ["digest_id", "plan_id", "contact_id"],
            ["digest.id", "digest.plan_id", "digest.contact_id"],
            name="fk_reminder_digest",
            ondelete="CASCADE",
            # Checked at commit: a run stores the claims while it renders, the digests after.
            deferrable=True,
            initially="DEFERRED",
        ),
        # The key's own index: for the check of a claim stored before its digest (SQLite
        # counts such claims and looks them up when the digest comes) and for the cascade.
        Index("ix_reminder_digest", "digest_id", "plan_id", "contact_id"),
        Index("ix_reminder_plan_id_as_of", "plan_id", "as_of"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int
    item: str = Field(max_length=60)  # ItemRef.token, e.g. "measure:12"
    stage: str = Field(max_length=40)  # T-28, T-7, T-1, due, overdue-1, …
    contact_id: int
    role: RecipientRole = Field(sa_type=enum_type(RecipientRole))
    due_on: date  # the stage's own date, before moving off days off
    as_of: date  # the run's date that claimed it
    digest_id: int  # the message that carries it
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One digest to one channel, and what became of it."""

    __table_args__ = (UniqueConstraint("digest_id", "channel", name="uq_delivery_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(foreign_key="digest.id", ondelete="CASCADE", index=True)
    channel: str = Field(max_length=500)  # as configured: an address, or env:/secret: name
    state: DeliveryState = Field(
        default=DeliveryState.PENDING, sa_type=enum_type(DeliveryState), index=True
    )
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=LAST_ERROR_LENGTH)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
