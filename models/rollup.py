"""The roll-up behind the ministry's follow-up summary: every number the summary shows,
computed once, here, as plain functions over the database.

For a plan and a round (or just an as-of date) it gives each measure and assignment its
status (the latest reply in or before the round), a red/amber/green colour, whether it is
overdue and how late, how its status moved since the previous round, and it counts them per
main goal, per responsible ministry and per agency. Every format (HTML, Markdown, Word,
CSV/JSON, the Prefect artifacts) renders this one result, so the numbers cannot disagree.

Rules, decided here and nowhere else:
- A reply counts for a round when it was given in that round or an earlier one, or outside
  any round before the round was closed. For an as-of date: when it was submitted by the end
  of that day (Oslo time). The latest counting reply is the item's status.
- "No reply" (nobody has ever reported) is not "not started" (someone said so).
- Colour: green (on track, completed), amber (at risk), red (delayed), grey (not started,
  cancelled, no reply, unknown values from old data); an open item past its deadline is red,
  whatever its status (an unknown status or no reply is open).
- Lead and shared responsibility: an organisation's (or ministry's) items are those it leads
  plus those it shares without leading, so each item is counted once: total = lead + shared.
  A ministry is responsible through its own organisations (a directorate under it counts).
- Worse or better: compares the severity of the status now with the status at the previous
  round (completed < on track = not started < at risk < delayed); cancelled, unknown and
  missing statuses are not compared.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models.calendar import effective_deadline
from models.items import Item, ItemKind, ItemRef, load_items
from models.messages import Delivery, RecipientRole, Reminder
from models.plan import (
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
from models.queries import get_plan
from models.reporting import ReportingRound, RoundItem, StatusReport
from models.rounds import INVITATION_STAGE, responsible_contact, round_token
from models.settings import get_settings
from models.status import CLOSED, RAG_OF, Rag, Status

NO_REPLY = "no_reply"
UNKNOWN = "unknown"
# The order in which states are counted and shown.
STATES: tuple[str, ...] = (*(s.value for s in Status), UNKNOWN, NO_REPLY)
RAGS: tuple[str, ...] = tuple(r.value for r in Rag)
SEVERITY: dict[Status, int] = {
    Status.COMPLETED: 0,
    Status.ON_TRACK: 1,
    Status.NOT_STARTED: 1,
    Status.AT_RISK: 2,
    Status.DELAYED: 3,
}


class Change:
    WORSENED = "worsened"
    IMPROVED = "improved"


@dataclass(frozen=True)
class Org:
    id: int
    key: str
    name: str
    kind: str
    ministry_key: str | None  # the ministry it belongs to (itself, for a ministry)


@dataclass(frozen=True)
class RoundInfo:
    id: int
    label: str
    as_of: date
    deadline: date
    state: str
    closed_at: datetime | None


@dataclass(frozen=True)
class Reply:
    """The reply that gives an item its status, as the summary shows it."""

    status: str
    progress: int | None
    done: str | None
    next_steps: str | None
    risk_note: str | None
    expected_completion: date | None
    submitted_at: datetime
    round_id: int | None
    contact: str | None


@dataclass
class ItemStatus:
    """One measure or assignment in the summary."""

    item: Item
    goal_number: int | None
    lead: Org | None
    shared: list[Org]
    planned_start: date | None
    reply: Reply | None  # the latest counting reply; None: no reply at all
    previous_status: str | None  # at the previous round
    state: str  # a Status value, UNKNOWN or NO_REPLY
    rag: str
    change: str | None  # Change.WORSENED / Change.IMPROVED / None
    deadline: date | None
    effective_deadline: date | None
    days_late: int | None  # > 0 when open and past the (effective) deadline
    asked: bool  # in the round's scope (as-of mode: every item)
    asked_contact: str | None
    replied_in_round: bool

    @property
    def kind(self) -> ItemKind:
        return self.item.ref.kind

    @property
    def token(self) -> str:
        return self.item.ref.token

    @property
    def status(self) -> str | None:
        """The stored status text, unknown values included; None with no reply."""
        return self.reply.status if self.reply else None

    @property
    def is_open(self) -> bool:
        return parse_status(self.status) not in CLOSED

    @property
    def overdue(self) -> bool:
        return self.days_late is not None and self.days_late > 0

    @property
    def missing(self) -> bool:
        """Asked in the round and not answered in it."""
        return self.asked and not self.replied_in_round

    @property
    def ministries(self) -> list[str]:
        keys = [o.ministry_key for o in [self.lead, *self.shared] if o and o.ministry_key]
        return list(dict.fromkeys(keys))


@dataclass
class Counts:
    """How many items in each state and colour; ``overdue`` of them past the deadline."""

    total: int = 0
    by_state: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    by_rag: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RAGS, 0))
    overdue: int = 0

    def add(self, item: ItemStatus) -> None:
        self.total += 1
        self.by_state[item.state] += 1
        self.by_rag[item.rag] += 1
        self.overdue += item.overdue


@dataclass
class Group:
    """The items of one goal, ministry or agency. ``lead + shared == counts.total``."""

    key: str | None  # None: items with no goal / no responsible organisation
    name: str
    lead: int = 0
    shared: int = 0
    counts: Counts = field(default_factory=Counts)


@dataclass
class ReminderEvent:
    on: date
    what: str  # a reminder stage ("T-7", "overdue-1") or a message kind ("round_invitation")
    to: str
    outcome: str  # sent / pending / failed / given_up / queued


@dataclass
class MissingReply:
    item: ItemStatus
    asked: str | None
    reminders: list[ReminderEvent]


@dataclass
class Rollup:
    plan_key: str
    plan_title: str
    plan_reference: str | None
    as_of: date
    round: RoundInfo | None
    previous_round: RoundInfo | None
    items: list[ItemStatus]  # measures by goal and number, then assignments
    goals: dict[int, str]  # number -> title
    totals: Counts
    by_goal: list[Group]  # goal order; then measures with no goal; then assignments
    by_ministry: list[Group]
    by_agency: list[Group]
    overdue: list[ItemStatus]  # latest first
    worsened: list[ItemStatus]
    improved: list[ItemStatus]
    missing: list[MissingReply]
    priority: list[ItemStatus]  # open items: the plan's priority, then deadline
    asked: int
    replied: int
    coordinator: str | None
    notes: list[str]  # codes for what is missing: no_measures, no_replies, no_responsible…

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.asked if self.asked else None

    @property
    def measures(self) -> list[ItemStatus]:
        return [i for i in self.items if i.kind == ItemKind.MEASURE]

    @property
    def assignments(self) -> list[ItemStatus]:
        return [i for i in self.items if i.kind == ItemKind.ASSIGNMENT]

    @property
    def risks(self) -> list[ItemStatus]:
        """Open items reported at risk or delayed, the worst first."""
        risky = [i for i in self.items if i.state in (Status.AT_RISK, Status.DELAYED)]
        return sorted(risky, key=lambda i: (i.state != Status.DELAYED, *priority_key(i)))


# ---------------------------------------------------------------------------- helpers

_STATUS_OF: dict[str, Status] = {s.value: s for s in Status}


def parse_status(value: str | None) -> Status | None:
    """models.status.parse_status without the exception per unknown value (a hot path)."""
    return _STATUS_OF.get(value) if value else None


def end_of_day_utc(day: date) -> datetime:
    """The first moment after ``day`` in the configured time zone (Oslo)."""
    zone = ZoneInfo(get_settings().timezone)
    return datetime.combine(day + timedelta(days=1), time(), zone)


def state_of(status: str | None) -> str:
    if status is None:
        return NO_REPLY
    parsed = parse_status(status)
    return parsed.value if parsed else UNKNOWN


def rag_of(state: str, overdue: bool) -> str:
    """The item's colour; ``overdue`` means open and past the deadline, which is red whatever
    the status says (or when nobody has said anything)."""
    if overdue:
        return Rag.RED.value
    parsed = parse_status(state)
    return RAG_OF[parsed].value if parsed else Rag.GREY.value


def change_of(before: str | None, now: str | None) -> str | None:
    old, new = SEVERITY.get(parse_status(before)), SEVERITY.get(parse_status(now))
    if old is None or new is None or old == new:
        return None
    return Change.WORSENED if new > old else Change.IMPROVED


def priority_key(i: ItemStatus) -> tuple:
    p, d = i.item.priority, i.effective_deadline
    return (
        p is None,
        p or 0,
        d is None,
        d or date.max,
        i.kind != ItemKind.MEASURE,
        i.item.number or 0,
        i.item.label,
    )


def ministry_of(org_id: int | None, orgs: dict[int, Organisation]) -> str | None:
    """The ministry an organisation belongs to: itself, or the nearest ministry above it."""
    seen: set[int] = set()
    while org_id is not None and org_id in orgs and org_id not in seen:
        seen.add(org_id)
        org = orgs[org_id]
        if org.kind == OrganisationKind.MINISTRY:
            return org.key
        org_id = org.parent_id
    return None


def _rounds(session: Session, plan_id: int) -> list[RoundInfo]:
    rows = session.exec(
        select(ReportingRound)
        .where(ReportingRound.plan_id == plan_id)
        .order_by(ReportingRound.as_of, ReportingRound.id)
    ).all()
    return [RoundInfo(r.id, r.label, r.as_of, r.deadline, r.state.value, r.closed_at) for r in rows]


class _Cut:
    """Which replies count at a round or a date."""

    def __init__(self, rounds: list[RoundInfo], rnd: RoundInfo | None, as_of: date):
        self.round = rnd
        if rnd is not None:
            position = [r.id for r in rounds].index(rnd.id)
            self.round_ids = {r.id for r in rounds[: position + 1]}
            self.until = rnd.closed_at
        else:
            self.round_ids = None
            self.until = end_of_day_utc(as_of)

    def counts(self, round_id: int | None, submitted_at: datetime) -> bool:
        if self.round_ids is not None:
            if round_id is not None:
                return round_id in self.round_ids
            return self.until is None or submitted_at <= self.until
        return submitted_at < self.until


def _latest(reports: list, cut: _Cut) -> dict[ItemRef, tuple]:
    """The latest counting reply per item; ``reports`` are ordered by time."""
    latest: dict[ItemRef, tuple] = {}
    for row in reports:
        if cut.counts(row.round_id, row.submitted_at):
            latest[_ref(row)] = row
    return latest


def _full_rows(session: Session, latest: dict[ItemRef, tuple]) -> dict[ItemRef, tuple]:
    """The chosen replies with their texts, read by id in chunks."""
    ids = [row.id for row in latest.values()]
    full = {}
    for start in range(0, len(ids), 5000):
        for row in session.execute(
            select(
                StatusReport.id,
                StatusReport.measure_id,
                StatusReport.assignment_id,
                StatusReport.round_id,
                StatusReport.submitted_at,
                StatusReport.status,
                StatusReport.progress,
                StatusReport.done,
                StatusReport.next_steps,
                StatusReport.risk_note,
                StatusReport.expected_completion,
                StatusReport.contact_id,
            ).where(StatusReport.id.in_(ids[start : start + 5000]))
        ).all():
            full[_ref(row)] = row
    return full


def _ref(row) -> ItemRef:
    if row.measure_id is not None:
        return ItemRef(ItemKind.MEASURE, row.measure_id)
    return ItemRef(ItemKind.ASSIGNMENT, row.assignment_id)


# ---------------------------------------------------------------------------- the roll-up


def compute_rollup(
    session: Session,
    plan_key: str | None = None,
    round_id: int | None = None,
    as_of: date | None = None,
) -> Rollup:
    """Every number of the follow-up summary for a plan at a round, or at an as-of date.

    With a round, ``as_of`` defaults to the round's as-of date (overdue is judged then);
    with neither, it is an error: the caller decides what "today" is."""
    if round_id is not None:
        rnd_row = session.get(ReportingRound, round_id)
        if rnd_row is None:
            from models.queries import NotFound

            raise NotFound(f"no round with id {round_id}")
        plan = session.get(Plan, rnd_row.plan_id)
        if plan_key and plan.key != plan_key:
            raise ValueError(f"round {round_id} belongs to plan {plan.key}, not {plan_key}")
    else:
        plan = get_plan(session, plan_key)
    rounds = _rounds(session, plan.id)
    rnd = next((r for r in rounds if r.id == round_id), None)
    if as_of is None:
        if rnd is None:
            raise ValueError("give a round or an as-of date")
        as_of = rnd.as_of
    if rnd is not None:
        before = rounds[: [r.id for r in rounds].index(rnd.id)]
    else:
        before = [r for r in rounds if r.as_of < as_of]
    previous = before[-1] if before else None

    items = load_items(session, plan.id)
    orgs = {
        o.id: o for o in session.exec(select(Organisation).where(Organisation.plan_id == plan.id))
    }
    org_view = {
        o.id: Org(o.id, o.key, o.name, o.kind.value, ministry_of(o.id, orgs)) for o in orgs.values()
    }
    contacts = {c.id: c for c in session.exec(select(Contact).where(Contact.plan_id == plan.id))}
    goals = {
        g.id: g
        for g in session.exec(select(Goal).where(Goal.plan_id == plan.id).order_by(Goal.number))
    }
    starts = dict(
        session.execute(select(Measure.id, Measure.planned_start).where(Measure.plan_id == plan.id))
        .tuples()
        .all()
    )
    shared: dict[int, list[Org]] = defaultdict(list)
    for measure_id, org_id in session.execute(
        select(MeasureSharedOrganisation.measure_id, MeasureSharedOrganisation.organisation_id)
        .join(Measure, Measure.id == MeasureSharedOrganisation.measure_id)
        .where(Measure.plan_id == plan.id)
        .order_by(MeasureSharedOrganisation.measure_id, MeasureSharedOrganisation.position)
    ).tuples():
        shared[measure_id].append(org_view[org_id])
    # Who said what when, without the texts: the texts are read for the latest replies only.
    reports = session.execute(
        select(
            StatusReport.id,
            StatusReport.measure_id,
            StatusReport.assignment_id,
            StatusReport.round_id,
            StatusReport.submitted_at,
            StatusReport.status,
        )
        .where(StatusReport.plan_id == plan.id)
        .order_by(StatusReport.submitted_at, StatusReport.id)
    ).all()
    current = _full_rows(session, _latest(reports, _Cut(rounds, rnd, as_of)))
    earlier = _latest(reports, _Cut(rounds, previous, previous.as_of)) if previous else {}
    in_round: set[ItemRef] = (
        {_ref(r) for r in reports if r.round_id == rnd.id} if rnd is not None else set()
    )

    coordinator_id = session.exec(
        select(PlanRole.contact_id).where(
            PlanRole.plan_id == plan.id, PlanRole.role == PlanRoleKind.COORDINATOR
        )
    ).first()
    if rnd is not None:
        scope = {
            ItemRef.parse(token): cid
            for token, cid in session.execute(
                select(RoundItem.item, RoundItem.contact_id).where(RoundItem.round_id == rnd.id)
            ).tuples()
        }
    else:
        first_of_org: dict[int, int] = {}
        for c in sorted(contacts.values(), key=lambda c: c.id):
            if c.organisation_id is not None:
                first_of_org.setdefault(c.organisation_id, c.id)
        scope = {i.ref: responsible_contact(i, first_of_org, coordinator_id) for i in items}

    def name_of(contact_id: int | None) -> str | None:
        contact = contacts.get(contact_id)
        return contact.name if contact else None

    statuses: list[ItemStatus] = []
    for item in items:
        row = current.get(item.ref)
        reply = (
            Reply(
                status=row.status,
                progress=row.progress,
                done=row.done,
                next_steps=row.next_steps,
                risk_note=row.risk_note,
                expected_completion=row.expected_completion,
                submitted_at=row.submitted_at,
                round_id=row.round_id,
                contact=name_of(row.contact_id),
            )
            if row is not None
            else None
        )
        state = state_of(reply.status if reply else None)
        effective = effective_deadline(item.deadline) if item.deadline else None
        open_ = parse_status(state) not in CLOSED
        late = (as_of - effective).days if effective and open_ and effective < as_of else None
        before_row = earlier.get(item.ref)
        previous_status = before_row.status if before_row is not None else None
        is_measure = item.ref.kind == ItemKind.MEASURE
        goal = goals.get(item.goal_id) if is_measure else None
        asked = item.ref in scope
        statuses.append(
            ItemStatus(
                item=item,
                goal_number=goal.number if goal else None,
                lead=org_view.get(item.organisation_id),
                shared=shared.get(item.ref.id, []) if is_measure else [],
                planned_start=starts.get(item.ref.id) if is_measure else None,
                reply=reply,
                previous_status=previous_status,
                state=state,
                rag=rag_of(state, late is not None),
                change=change_of(previous_status, reply.status if reply else None),
                deadline=item.deadline,
                effective_deadline=effective,
                days_late=late,
                asked=asked,
                asked_contact=name_of(scope.get(item.ref)),
                replied_in_round=(item.ref in in_round) if rnd is not None else reply is not None,
            )
        )
    # Measures by goal (in the plan's goal order), then those without a goal, then assignments.
    goal_order = {g.number: n for n, g in enumerate(goals.values())}
    statuses.sort(
        key=lambda s: (
            s.kind != ItemKind.MEASURE,
            s.kind == ItemKind.MEASURE and s.goal_number is None,
            goal_order.get(s.goal_number, 0),
        )
    )  # stable: keeps numbers within a goal, assignments in their order

    totals = Counts()
    for s in statuses:
        totals.add(s)
    asked_items = [s for s in statuses if s.asked]
    notes = _notes(statuses, asked_items, rnd)
    return Rollup(
        plan_key=plan.key,
        plan_title=plan.title,
        plan_reference=plan.reference,
        as_of=as_of,
        round=rnd,
        previous_round=previous,
        items=statuses,
        goals={g.number: g.title for g in goals.values()},
        totals=totals,
        by_goal=_by_goal(statuses, goals),
        by_ministry=_by_responsible(statuses, org_view, ministries=True),
        by_agency=_by_responsible(statuses, org_view, ministries=False),
        overdue=sorted(
            (s for s in statuses if s.overdue), key=lambda s: (-s.days_late, *priority_key(s))
        ),
        worsened=[s for s in statuses if s.change == Change.WORSENED],
        improved=[s for s in statuses if s.change == Change.IMPROVED],
        missing=_missing(
            session, plan.id, rnd, as_of, [s for s in asked_items if s.missing], contacts
        ),
        priority=sorted((s for s in statuses if s.is_open), key=priority_key),
        asked=len(asked_items),
        replied=sum(1 for s in asked_items if s.replied_in_round),
        coordinator=name_of(coordinator_id),
        notes=notes,
    )


def _notes(statuses: list[ItemStatus], asked: list[ItemStatus], rnd: RoundInfo | None) -> list[str]:
    notes = []
    if not any(s.kind == ItemKind.MEASURE for s in statuses):
        notes.append("no_measures")
    if asked and not any(s.replied_in_round for s in asked):
        notes.append("no_replies")
    if rnd is not None and not asked:
        notes.append("no_scope")
    if any(s.lead is None and not s.shared for s in statuses):
        notes.append("no_responsible")
    if any(s.state == UNKNOWN for s in statuses):
        notes.append("unknown_status")
    return notes


def _by_goal(statuses: list[ItemStatus], goals: dict[int, Goal]) -> list[Group]:
    groups = {g.number: Group(str(g.number), g.title) for g in goals.values()}
    no_goal = Group(None, "")
    assignments = Group("assignments", "")
    for s in statuses:
        is_assignment = s.kind == ItemKind.ASSIGNMENT
        group = assignments if is_assignment else groups.get(s.goal_number, no_goal)
        group.lead += 1
        group.counts.add(s)
    return list(groups.values()) + [g for g in (no_goal, assignments) if g.counts.total]


def _by_responsible(
    statuses: list[ItemStatus], orgs: dict[int, Org], *, ministries: bool
) -> list[Group]:
    """Per ministry (through its organisations) or per agency (any organisation that is not a
    ministry): each item once, as lead when it leads, else as shared."""
    groups: dict[str | None, Group] = {}
    if ministries:
        for o in orgs.values():
            if o.kind == OrganisationKind.MINISTRY.value:
                groups[o.key] = Group(o.key, o.name)
    else:
        for o in orgs.values():
            if o.kind != OrganisationKind.MINISTRY.value:
                groups[o.key] = Group(o.key, o.name)

    def keys(org: Org | None) -> list[str]:
        if org is None:
            return []
        if ministries:
            return [org.ministry_key] if org.ministry_key else []
        return [org.key] if org.kind != OrganisationKind.MINISTRY.value else []

    for s in statuses:
        lead = keys(s.lead)
        others = [k for o in s.shared for k in keys(o) if k not in lead]
        if ministries and not lead and not others:
            lead = [None]  # no responsible ministry: shown as such, not dropped
        for key in dict.fromkeys(lead):
            group = groups.setdefault(key, Group(key, ""))
            group.lead += 1
            group.counts.add(s)
        for key in dict.fromkeys(others):
            group = groups.setdefault(key, Group(key, ""))
            group.shared += 1
            group.counts.add(s)
    return [g for g in groups.values() if g.counts.total]


def _missing(
    session: Session,
    plan_id: int,
    rnd: RoundInfo | None,
    as_of: date,
    missing: list[ItemStatus],
    contacts: dict[int, Contact],
) -> list[MissingReply]:
    """Items asked about and not answered, with the reminders and round messages sent about
    them (by as_of), so the reader sees who was reminded when."""
    if not missing:
        return []
    tokens = [s.token for s in missing]
    # Reminders up to the round's reply deadline count, even when the summary's as-of is earlier.
    horizon = max(as_of, rnd.deadline) if rnd is not None else as_of
    events: dict[str, list[ReminderEvent]] = defaultdict(list)
    rows = session.execute(
        select(Reminder.item, Reminder.stage, Reminder.as_of, Reminder.contact_id, Delivery.state)
        .join(Delivery, Delivery.digest_id == Reminder.digest_id, isouter=True)
        .where(Reminder.plan_id == plan_id, Reminder.as_of <= horizon)
        .order_by(Reminder.as_of, Reminder.id)
    ).tuples()
    wanted = set(tokens)
    seen: set[tuple] = set()
    for token, stage, on, contact_id, state in rows:
        if token not in wanted or (token, stage, on, contact_id) in seen:
            continue
        seen.add((token, stage, on, contact_id))
        name = contacts[contact_id].name if contact_id in contacts else "?"
        events[token].append(ReminderEvent(on, stage, name, state.value if state else "queued"))
    # Round messages (invitation, chasers) are claimed under the round: shown for the person.
    by_name: dict[str, list[ReminderEvent]] = defaultdict(list)
    if rnd is not None:
        for stage, on, contact_id, state in session.execute(
            select(Reminder.stage, Reminder.as_of, Reminder.contact_id, Delivery.state)
            .join(Delivery, Delivery.digest_id == Reminder.digest_id, isouter=True)
            .where(
                Reminder.plan_id == plan_id,
                Reminder.item == round_token(rnd.id),
                Reminder.role == RecipientRole.OWNER,
                Reminder.as_of <= horizon,
            )
            .order_by(Reminder.as_of, Reminder.id)
        ).tuples():
            if contact_id in contacts:
                name = contacts[contact_id].name
                what = "round_invitation" if stage == INVITATION_STAGE else "round_reminder"
                by_name[name].append(
                    ReminderEvent(on, what, name, state.value if state else "queued")
                )
    out = []
    for s in missing:
        extra = by_name.get(s.asked_contact, [])
        out.append(
            MissingReply(
                s, s.asked_contact, sorted(extra + events[s.token], key=lambda e: (e.on, e.what))
            )
        )
    return out
