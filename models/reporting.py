"""Reporting rounds and the status reports owners send in.

Status reports are append-only case documents: a new reply is a new row, the latest one
counts, and none is ever updated or deleted.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import enum_type
from models.types import UTCDateTime, utcnow


class RoundState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ReplyChannel(StrEnum):
    WEB = "web"
    PREFECT_UI = "prefect_ui"
    COORDINATOR = "coordinator"
    IMPORT = "import"


class ReportingRound(SQLModel, table=True):
    """A request for status (a tertial, a half-year, an ad hoc request) with a reply deadline."""

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    label: str = Field(max_length=200)
    as_of: date
    deadline: date
    state: RoundState = Field(default=RoundState.OPEN, sa_type=enum_type(RoundState))
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    flow_run_id: str | None = Field(default=None, max_length=40)  # the run that opened it
    progress_artifact_id: str | None = Field(default=None, max_length=40)


class RoundItem(SQLModel, table=True):
    """An item in a round's scope, and who was asked to report on it."""

    __table_args__ = (
        UniqueConstraint("round_id", "item", name="uq_round_item"),
        Index("ix_rounditem_round_id_contact_id", "round_id", "contact_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="reportinground.id", ondelete="CASCADE")
    item: str = Field(max_length=60)  # ItemRef.token
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)


class RoundContact(SQLModel, table=True):
    """A person asked in a round: their invitation and their reply run in Prefect."""

    __table_args__ = (UniqueConstraint("round_id", "contact_id", name="uq_round_contact"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="reportinground.id", ondelete="CASCADE", index=True)
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    flow_run_id: str | None = Field(default=None, max_length=40)
    run_resolved: bool = False  # the reply run has been resumed or found finished


class RoundEvent(SQLModel, table=True):
    """The round's log: opened, closed, reopened, extended, with who and when."""

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="reportinground.id", ondelete="CASCADE", index=True)
    event: str = Field(max_length=40)
    detail: str | None = Field(default=None, max_length=500)
    by: str | None = Field(default=None, max_length=200)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StatusReport(SQLModel, table=True):
    """One status reply for one measure or assignment, kept whole with who sent it and when."""

    __table_args__ = (
        CheckConstraint(
            "(measure_id IS NULL) <> (assignment_id IS NULL)",
            name="status_report_one_item",
        ),
        UniqueConstraint("submission", "item", name="uq_status_report_submission_item"),
        # An item's latest report is max(id) over its reports: one index probe (migration 0004).
        Index("ix_statusreport_measure_id_id", "measure_id", "id"),
        Index("ix_statusreport_assignment_id_id", "assignment_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    measure_id: int | None = Field(default=None, foreign_key="measure.id", ondelete="CASCADE")
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id", ondelete="CASCADE")
    round_id: int | None = Field(
        default=None, foreign_key="reportinground.id", ondelete="SET NULL", index=True
    )
    contact_id: int | None = Field(
        default=None, foreign_key="contact.id", ondelete="SET NULL", index=True
    )
    # Text, not an enum column: unknown values in old data must survive to be shown as such.
    status: str = Field(max_length=40)
    progress: int | None = None
    done: str | None = Field(default=None, max_length=10000)
    next_steps: str | None = Field(default=None, max_length=10000)
    expected_completion: date | None = None
    risk_note: str | None = Field(default=None, max_length=5000)
    channel: ReplyChannel = Field(default=ReplyChannel.WEB, sa_type=enum_type(ReplyChannel))
    entered_by: str | None = Field(default=None, max_length=200)
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # One form post (or one Prefect UI reply): its rows share this key, and a retried
    # recording of the same submission cannot add them twice.
    submission: str | None = Field(default=None, max_length=64, index=True)
    item: str | None = Field(default=None, max_length=60)  # ItemRef.token, for that key
