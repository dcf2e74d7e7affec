"""The data, the database session and the domain rules, as plain functions. No Prefect here."""

from models.changelog import ChangeLogEntry
from models.messages import Delivery, DeliveryState, Digest, DigestKind, RecipientRole, Reminder
from models.plan import (
    Assignment,
    AssignmentMeasure,
    Contact,
    Goal,
    Measure,
    MeasureSharedOrganisation,
    Organisation,
    OrganisationKind,
    Plan,
    PlanRole,
    PlanRoleKind,
)
from models.reporting import (
    ReplyChannel,
    ReportingRound,
    RoundContact,
    RoundEvent,
    RoundItem,
    RoundState,
    StatusReport,
)

__all__ = [
    "Assignment",
    "AssignmentMeasure",
    "ChangeLogEntry",
    "Contact",
    "Delivery",
    "DeliveryState",
    "Digest",
    "DigestKind",
    "Goal",
    "Measure",
    "MeasureSharedOrganisation",
    "Organisation",
    "OrganisationKind",
    "Plan",
    "PlanRole",
    "PlanRoleKind",
    "RecipientRole",
    "Reminder",
    "ReplyChannel",
    "ReportingRound",
    "RoundContact",
    "RoundEvent",
    "RoundItem",
    "RoundState",
    "StatusReport",
]
