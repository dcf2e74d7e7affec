"""The plan and what it is made of: organisations, contacts, goals, measures, assignments.

Organisations and contacts belong to one plan: a plan file is a whole universe and exports
back out exactly as it came in. Every row has a stable key from the plan file (``key`` or
``number``) so that importing again updates instead of duplicating.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import enum_type
from models.language import Language
from models.types import UTCDateTime, utcnow


class OrganisationKind(StrEnum):
    MINISTRY = "ministry"
    DIRECTORATE = "directorate"
    AGENCY = "agency"
    OTHER = "other"


class PlanRoleKind(StrEnum):
    COORDINATOR = "coordinator"
    SUMMARY_RECIPIENT = "summary_recipient"


class Provenance(SQLModel):
    """Where a row's values come from: the documents, or illustration."""

    source: str | None = Field(default=None, max_length=500)
    illustrative: list[str] | None = Field(default=None, sa_type=JSON)


class Plan(Provenance, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True, index=True)
    title: str = Field(max_length=500)
    reference: str | None = Field(default=None, max_length=200)
    period_start: date
    period_end: date
    reminder_policy: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Organisation(Provenance, table=True):
    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    key: str = Field(max_length=50)
    name: str = Field(max_length=300)
    kind: OrganisationKind = Field(sa_type=enum_type(OrganisationKind))
    parent_id: int | None = Field(
        default=None, foreign_key="organisation.id", ondelete="SET NULL", index=True
    )


class Contact(Provenance, table=True):
    """A person responsible for measures; contact data is personal data: keep it minimal."""

    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    key: str = Field(max_length=100)
    name: str = Field(max_length=200)
    organisation_id: int | None = Field(
        default=None, foreign_key="organisation.id", ondelete="SET NULL", index=True
    )
    language: Language = Field(default=Language.NB, sa_type=enum_type(Language))
    # Apprise URLs, or references "env:NAME" / "secret:block-name" resolved at send time.
    channels: list[str] = Field(default_factory=list, sa_type=JSON)


class PlanRole(SQLModel, table=True):
    """A contact's role in the plan: its coordinator, or a recipient of the summary."""

    plan_id: int = Field(foreign_key="plan.id", primary_key=True, ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    role: PlanRoleKind = Field(sa_type=enum_type(PlanRoleKind), primary_key=True)
    position: int = 0


class Goal(Provenance, table=True):
    """A main goal (hovedmål), numbered as the plan numbers them."""

    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    number: int
    title: str = Field(max_length=500)
    chapter: int | None = None


class Measure(Provenance, table=True):
    """A measure (tiltak) by its running number in the plan's appendix."""

    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    number: int
    title: str = Field(max_length=1000)
    goal_id: int | None = Field(
        default=None, foreign_key="goal.id", ondelete="SET NULL", index=True
    )
    chapter: int | None = None
    lead_organisation_id: int | None = Field(
        default=None, foreign_key="organisation.id", ondelete="SET NULL", index=True
    )
    owner_id: int | None = Field(
        default=None, foreign_key="contact.id", ondelete="SET NULL", index=True
    )
    planned_start: date | None = None
    planned_end: date | None = None
    priority: int | None = None
    operationalisation: str | None = Field(default=None, max_length=5000)
    reminder_policy: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class MeasureSharedOrganisation(SQLModel, table=True):
    """An organisation sharing responsibility (medansvar) for a measure."""

    measure_id: int = Field(foreign_key="measure.id", primary_key=True, ondelete="CASCADE")
    organisation_id: int = Field(
        foreign_key="organisation.id", primary_key=True, ondelete="CASCADE"
    )
    position: int = 0


class Assignment(Provenance, table=True):
    """An assignment (oppdrag) given by a letter, with its deadline."""

    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    key: str = Field(max_length=100)
    letter: str = Field(max_length=300)
    title: str = Field(max_length=500)
    text: str | None = Field(default=None, max_length=10000)
    issued_by_id: int | None = Field(
        default=None, foreign_key="organisation.id", ondelete="SET NULL", index=True
    )
    issuer_contact_id: int | None = Field(
        default=None, foreign_key="contact.id", ondelete="SET NULL", index=True
    )
    assigned_organisation_id: int | None = Field(
        default=None, foreign_key="organisation.id", ondelete="SET NULL", index=True
    )
    owner_id: int | None = Field(
        default=None, foreign_key="contact.id", ondelete="SET NULL", index=True
    )
    deadline: date | None = None
    priority: int | None = None
    reminder_policy: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class AssignmentMeasure(SQLModel, table=True):
    """A measure that an assignment concerns."""

    assignment_id: int = Field(foreign_key="assignment.id", primary_key=True, ondelete="CASCADE")
    measure_id: int = Field(foreign_key="measure.id", primary_key=True, ondelete="CASCADE")
