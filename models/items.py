"""Measures and assignments seen the same way: things with an owner, a deadline and a status.

Reminders, rounds and the summary all work on this one view, so that what counts as an
item's deadline, owner or current status is decided in one place."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from models.plan import Assignment, Measure, Organisation
from models.reporting import StatusReport
from models.status import is_closed


class ItemKind(StrEnum):
    MEASURE = "measure"
    ASSIGNMENT = "assignment"


@dataclass(frozen=True)
class ItemRef:
    kind: ItemKind
    id: int

    @property
    def token(self) -> str:
        """A short text form, e.g. 'measure:4', for keys and forms."""
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, token: str) -> "ItemRef":
        kind, _, ident = token.partition(":")
        return cls(ItemKind(kind), int(ident))


@dataclass
class Item:
    ref: ItemRef
    label: str  # "Tiltak 4" / the assignment's key: how people refer to it
    number: int | None
    key: str | None
    title: str
    deadline: date | None
    owner_id: int | None
    organisation_id: int | None  # lead (measure) or assigned (assignment) organisation
    priority: int | None
    reminder_policy: dict[str, Any] | None
    goal_id: int | None = None
    letter: str | None = None
    issuer_contact_id: int | None = None


def load_items(session: Session, plan_id: int) -> list[Item]:
    """Every measure and assignment of a plan, measures by number, then assignments.

    Columns, not ORM objects: plans can hold a hundred thousand items."""
    measures = session.execute(
        select(
            Measure.id,
            Measure.number,
            Measure.title,
            Measure.planned_end,
            Measure.owner_id,
            Measure.lead_organisation_id,
            Measure.priority,
            Measure.reminder_policy,
            Measure.goal_id,
        )
        .where(Measure.plan_id == plan_id)
        .order_by(Measure.number)
    ).all()
    assignments = session.execute(
        select(
            Assignment.id,
            Assignment.key,
            Assignment.title,
            Assignment.deadline,
            Assignment.owner_id,
            Assignment.assigned_organisation_id,
            Assignment.priority,
            Assignment.reminder_policy,
            Assignment.letter,
            Assignment.issuer_contact_id,
        )
        .where(Assignment.plan_id == plan_id)
        .order_by(Assignment.id)
    ).all()
    items = [
        Item(
            ref=ItemRef(ItemKind.MEASURE, mid),
            label=str(number),
            number=number,
            key=None,
            title=title,
            deadline=end,
            owner_id=owner,
            organisation_id=lead,
            priority=priority,
            reminder_policy=policy,
            goal_id=goal,
        )
        for mid, number, title, end, owner, lead, priority, policy, goal in measures
    ]
    items += [
        Item(
            ref=ItemRef(ItemKind.ASSIGNMENT, aid),
            label=key,
            number=None,
            key=key,
            title=title,
            deadline=deadline,
            owner_id=owner,
            organisation_id=org,
            priority=priority,
            reminder_policy=policy,
            letter=letter,
            issuer_contact_id=issuer,
        )
        for aid, key, title, deadline, owner, org, priority, policy, letter, issuer in assignments
    ]
    return items


def latest_reports(
    session: Session, plan_id: int, up_to: datetime | None = None
) -> dict[ItemRef, StatusReport]:
    """The latest status report of each item (optionally as it stood at ``up_to``)."""
    latest = select(func.max(StatusReport.id).label("id")).where(StatusReport.plan_id == plan_id)
    if up_to is not None:
        latest = latest.where(StatusReport.submitted_at <= up_to)
    latest = latest.group_by(StatusReport.measure_id, StatusReport.assignment_id).subquery()
    reports = session.exec(select(StatusReport).join(latest, StatusReport.id == latest.c.id)).all()
    return {report_ref(r): r for r in reports}


def report_ref(report: StatusReport) -> ItemRef:
    if report.measure_id is not None:
        return ItemRef(ItemKind.MEASURE, report.measure_id)
    return ItemRef(ItemKind.ASSIGNMENT, report.assignment_id)


def is_open(item: Item, latest: dict[ItemRef, StatusReport]) -> bool:
    """An item is open until its latest status says completed or cancelled."""
    report = latest.get(item.ref)
    return not (report and is_closed(report.status))


def organisation_names(session: Session, plan_id: int) -> dict[int, Organisation]:
    rows = session.exec(select(Organisation).where(Organisation.plan_id == plan_id)).all()
    return {o.id: o for o in rows}
