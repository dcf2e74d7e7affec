"""A plan at a glance as of a date: goals with their measures, assignments, what is overdue."""

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from models.calendar import day_off_name, effective_deadline
from models.items import (
    Item,
    ItemKind,
    is_open,
    latest_reports,
    load_items,
    organisation_names,
)
from models.plan import Contact, Goal, MeasureSharedOrganisation, Plan, PlanRole, PlanRoleKind
from models.queries import get_plan, link_keys


@dataclass
class Row:
    item: Item
    lead: str | None
    shared: list[str]
    owner: str | None
    status: str | None
    deadline_note: str | None  # e.g. "2. pinsedag" when the deadline is a day off
    days_left: int | None  # negative when late
    overdue: bool


@dataclass
class GoalSection:
    number: int | None
    title: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class Overview:
    plan: Plan
    as_of: date
    coordinator: str | None
    sections: list[GoalSection]
    assignments: list[Row]

    @property
    def rows(self) -> list[Row]:
        return [r for s in self.sections for r in s.rows] + self.assignments

    @property
    def overdue(self) -> list[Row]:
        return [r for r in self.rows if r.overdue]


def plan_overview(session: Session, as_of: date, plan_key: str | None = None) -> Overview:
    plan = get_plan(session, plan_key)
    items = load_items(session, plan.id)
    latest = latest_reports(session, plan.id)
    orgs = organisation_names(session, plan.id)
    contacts = {c.id: c for c in session.exec(select(Contact).where(Contact.plan_id == plan.id))}
    shared = link_keys(
        session,
        MeasureSharedOrganisation,
        "measure_id",
        "organisation_id",
        [i.ref.id for i in items if i.ref.kind == ItemKind.MEASURE],
        {o.id: o.key for o in orgs.values()},
    )
    coordinator = session.exec(
        select(Contact)
        .join(PlanRole, PlanRole.contact_id == Contact.id)
        .where(PlanRole.plan_id == plan.id, PlanRole.role == PlanRoleKind.COORDINATOR)
    ).first()

    def row(item: Item) -> Row:
        report = latest.get(item.ref)
        days_left = overdue = None
        if item.deadline:
            days_left = (effective_deadline(item.deadline) - as_of).days
            overdue = days_left < 0 and is_open(item, latest)
        org = orgs.get(item.organisation_id)
        owner = contacts.get(item.owner_id)
        return Row(
            item=item,
            lead=org.key if org else None,
            shared=shared.get(item.ref.id, []) if item.ref.kind == ItemKind.MEASURE else [],
            owner=owner.name if owner else None,
            status=report.status if report else None,
            deadline_note=day_off_name(item.deadline) if item.deadline else None,
            days_left=days_left,
            overdue=bool(overdue),
        )

    goals = session.exec(select(Goal).where(Goal.plan_id == plan.id).order_by(Goal.number)).all()
    sections = {g.id: GoalSection(g.number, g.title) for g in goals}
    no_goal = GoalSection(None, "")
    assignments = []
    for item in items:
        if item.ref.kind == ItemKind.ASSIGNMENT:
            assignments.append(row(item))
        else:
            sections.get(item.goal_id, no_goal).rows.append(row(item))
    ordered = list(sections.values()) + ([no_goal] if no_goal.rows else [])
    return Overview(plan, as_of, coordinator.name if coordinator else None, ordered, assignments)
