"""Reporting rounds: who is asked about what, who has answered, and the round's life
(opened, extended, closed, reopened), all as plain functions over the database."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from models.calendar import is_working_day
from models.items import Item, ItemRef, is_open, latest_reports, load_items
from models.messages import Reminder
from models.plan import Contact, Plan, PlanRole, PlanRoleKind
from models.queries import NotFound, get_plan
from models.reporting import (
    ReportingRound,
    RoundContact,
    RoundEvent,
    RoundItem,
    RoundState,
    StatusReport,
)
from models.text import person_name, plain_text
from models.types import utcnow

LABEL_LENGTH = 200  # ReportingRound.label


class RoundError(ValueError):
    """A round operation that cannot be done as asked."""


def responsible_contact(
    item: Item, first_contact_of_org: dict[int, int], coordinator_id: int | None
) -> int | None:
    """Who reports on an item: its owner, else the first contact of its organisation,
    else the coordinator."""
    if item.owner_id is not None:
        return item.owner_id
    return first_contact_of_org.get(item.organisation_id, coordinator_id)


def coordinator_of(session: Session, plan_id: int) -> Contact | None:
    return session.exec(
        select(Contact)
        .join(PlanRole, PlanRole.contact_id == Contact.id)
        .where(PlanRole.plan_id == plan_id, PlanRole.role == PlanRoleKind.COORDINATOR)
    ).first()


def check_new_round(label: str, as_of: date, deadline: date) -> str:
    """The label, stripped, if a round can be opened with these; else RoundError."""
    label = plain_text(label)
    if not label:
        raise RoundError("a round needs a label, e.g. '1. tertial 2021'")
    if len(label) > LABEL_LENGTH:
        raise RoundError(f"a round's label has at most {LABEL_LENGTH} characters ({len(label)})")
    if deadline < as_of:
        raise RoundError(f"the reply deadline {deadline} is before the as-of date {as_of}")
    return label


def open_round(
    session: Session,
    *,
    label: str,
    as_of: date,
    deadline: date,
    plan_key: str | None = None,
    by: str | None = None,
) -> ReportingRound:
    """Open a round for every open measure and assignment that has someone to report on it."""
    label = check_new_round(label, as_of, deadline)
    plan = get_plan(session, plan_key)
    clash = session.exec(
        select(ReportingRound).where(
            ReportingRound.plan_id == plan.id, ReportingRound.label == label
        )
    ).first()
    if clash:
        raise RoundError(f"plan {plan.key} already has a round labelled {label!r} (id {clash.id})")
    items = load_items(session, plan.id)
    latest = latest_reports(session, plan.id)
    contacts = session.exec(
        select(Contact).where(Contact.plan_id == plan.id).order_by(Contact.id)
    ).all()
    first_of_org: dict[int, int] = {}
    for c in contacts:
        if c.organisation_id is not None:
            first_of_org.setdefault(c.organisation_id, c.id)
    coordinator = coordinator_of(session, plan.id)
    scope = [
        (item, contact_id)
        for item in items
        if is_open(item, latest)
        if (
            contact_id := responsible_contact(
                item, first_of_org, coordinator.id if coordinator else None
            )
        )
    ]
    if not scope:
        raise RoundError(
            f"plan {plan.key} has no open measure or assignment with someone responsible to ask"
        )
    rnd = ReportingRound(plan_id=plan.id, label=label, as_of=as_of, deadline=deadline)
    session.add(rnd)
    session.flush()
    session.add_all(
        [RoundItem(round_id=rnd.id, item=item.ref.token, contact_id=cid) for item, cid in scope]
    )
    session.add_all(
        [
            RoundContact(round_id=rnd.id, contact_id=cid)
            for cid in dict.fromkeys(cid for _, cid in scope)
        ]
    )
    log(session, rnd, "opened", f"{len(scope)} items, reply by {deadline}", by)
    session.flush()
    return rnd


def log(session: Session, rnd: ReportingRound, event: str, detail: str | None, by: str | None):
    session.add(RoundEvent(round_id=rnd.id, event=event, detail=detail, by=person_name(by)))


def get_round(
    session: Session,
    round_id: int | None = None,
    plan_key: str | None = None,
    state: RoundState | None = None,
) -> ReportingRound:
    """A round by id, or the plan's only (open) round."""
    if round_id is not None:
        rnd = session.get(ReportingRound, round_id)
        if rnd is None:
            raise NotFound(f"no round with id {round_id}")
        if plan_key and get_plan(session, plan_key).id != rnd.plan_id:
            raise NotFound(f"round {round_id} is not a round of plan {plan_key}")
        return rnd
    plan = get_plan(session, plan_key)
    query = select(ReportingRound).where(ReportingRound.plan_id == plan.id)
    if state is not None:
        query = query.where(ReportingRound.state == state)
    rounds = session.exec(query.order_by(ReportingRound.id)).all()
    if not rounds:
        raise NotFound(f"plan {plan.key} has no {state.value + ' ' if state else ''}round")
    if len(rounds) > 1:
        listed = ", ".join(f"{r.id} ({r.label})" for r in rounds)
        raise NotFound(f"plan {plan.key} has several rounds: {listed}; name one with --round")
    return rounds[0]


def rounds_past_deadline(session: Session, as_of: date) -> list[ReportingRound]:
    """Open rounds whose reply deadline was before ``as_of`` (the deadline day still counts)."""
    return _rounds(
        session, ReportingRound.state == RoundState.OPEN, ReportingRound.deadline < as_of
    )


def _rounds(session: Session, *conditions) -> list[ReportingRound]:
    """The rounds that meet the conditions, by reply deadline."""
    return list(
        session.exec(
            select(ReportingRound)
            .where(*conditions)
            .order_by(ReportingRound.deadline, ReportingRound.id)
        ).all()
    )


def close_round(session: Session, rnd: ReportingRound, by: str | None = None) -> None:
    if rnd.state == RoundState.CLOSED:
        raise RoundError(f"round {rnd.id} ({rnd.label}) is already closed")
    rnd.state, rnd.closed_at = RoundState.CLOSED, utcnow()
    session.add(rnd)
    log(session, rnd, "closed", None, by)


def check_reopen(rnd: ReportingRound, deadline: date | None = None) -> None:
    """RoundError unless the round is closed and the deadline (new or kept) is after its
    as-of date."""
    if rnd.state == RoundState.OPEN:
        raise RoundError(f"round {rnd.id} ({rnd.label}) is open")
    due = deadline or rnd.deadline
    if due < rnd.as_of:
        raise RoundError(f"the reply deadline {due} is before the round's as-of date {rnd.as_of}")


def reopen_round(
    session: Session, rnd: ReportingRound, deadline: date | None = None, by: str | None = None
) -> None:
    """Open a closed round again (logged). Whoever has not answered every item is to get a
    new waiting reply run (their old one ended when the round closed): their record of a
    run is cleared, for the caller to start new ones (flows.rounds.start_reply_runs)."""
    check_reopen(rnd, deadline)
    rnd.state, rnd.closed_at = RoundState.OPEN, None
    detail = None
    if deadline is not None:
        detail = f"deadline {rnd.deadline} -> {deadline}"
        rnd.deadline = deadline
    session.add(rnd)
    log(session, rnd, "reopened", detail, by)
    waiting = {p.contact.id for p in progress(session, rnd) if not p.complete}
    for rc in round_contacts(session, rnd.id):
        if rc.contact_id in waiting:
            rc.flow_run_id, rc.run_resolved = None, False
            session.add(rc)


def extend_round(
    session: Session, rnd: ReportingRound, deadline: date, by: str | None = None
) -> None:
    """Give an open round a later reply deadline (logged). A closed round is reopened
    instead (reopen_round, which takes a deadline too)."""
    if rnd.state != RoundState.OPEN:
        raise RoundError(
            f"round {rnd.id} ({rnd.label}) is closed: reopen it with a new deadline "
            f"(followup round reopen --round {rnd.id} --deadline ...)"
        )
    if deadline <= rnd.deadline:
        raise RoundError(f"the new deadline {deadline} is not after {rnd.deadline}")
    log(session, rnd, "extended", f"deadline {rnd.deadline} -> {deadline}", by)
    rnd.deadline = deadline
    session.add(rnd)


def scope_of(session: Session, round_id: int, contact_id: int | None = None) -> list[RoundItem]:
    query = select(RoundItem).where(RoundItem.round_id == round_id)
    if contact_id is not None:
        query = query.where(RoundItem.contact_id == contact_id)
    return list(session.exec(query.order_by(RoundItem.id)).all())


@dataclass
class ContactProgress:
    contact: Contact
    expected: int
    replied: int
    last_reply_at: datetime | None

    @property
    def complete(self) -> bool:
        return self.replied >= self.expected


def progress(session: Session, rnd: ReportingRound) -> list[ContactProgress]:
    """Per person asked: items expected, items with a reply in this round, last reply."""
    replied = {
        item: at
        for item, at in session.exec(
            select(StatusReport.item, func.max(StatusReport.submitted_at))
            .where(StatusReport.round_id == rnd.id)
            .group_by(StatusReport.item)
        ).all()
    }
    per_contact: dict[int, list[str]] = {}
    for ri in scope_of(session, rnd.id):
        per_contact.setdefault(ri.contact_id, []).append(ri.item)
    contacts = {
        c.id: c
        for c in session.exec(select(Contact).where(Contact.id.in_(list(per_contact)))).all()
    }
    out = []
    for cid, items in per_contact.items():
        times = [replied[i] for i in items if i in replied]
        out.append(
            ContactProgress(contacts[cid], len(items), len(times), max(times) if times else None)
        )
    return sorted(out, key=lambda p: (p.complete, p.contact.name))


def item_refs(rows: list[RoundItem]) -> list[ItemRef]:
    return [ItemRef.parse(r.item) for r in rows]


def plan_of(session: Session, rnd: ReportingRound) -> Plan:
    return session.get(Plan, rnd.plan_id)


def has_replied(session: Session, round_id: int, contact_id: int) -> bool:
    """Whether any reply for this person's items has come in during the round."""
    items = [r.item for r in scope_of(session, round_id, contact_id)]
    return (
        session.exec(
            select(func.count())
            .select_from(StatusReport)
            .where(StatusReport.round_id == round_id, StatusReport.item.in_(items))
        ).one()
        > 0
    )


def round_contacts(session: Session, round_id: int) -> list[RoundContact]:
    return list(
        session.exec(
            select(RoundContact).where(RoundContact.round_id == round_id).order_by(RoundContact.id)
        ).all()
    )


def unresolved_runs(session: Session, round_id: int | None = None) -> list[RoundContact]:
    """Reply runs in Prefect not yet resumed or finished (across open and closed rounds)."""
    query = select(RoundContact).where(
        RoundContact.flow_run_id.is_not(None), RoundContact.run_resolved.is_(False)
    )
    if round_id is not None:
        query = query.where(RoundContact.round_id == round_id)
    return list(session.exec(query.order_by(RoundContact.id)).all())


# ---------------------------------------------------------------------------- chasing

INVITATION_STAGE = "invitation"  # the claim's stage of a person's invitation to a round
MISSING_NOTICE_DAYS = 30  # after this many days past a deadline, nobody is told any more


def round_token(round_id: int) -> str:
    """The claim key of a round's messages (invitation, chasers, missing-replies notice)."""
    return f"round:{round_id}"


def chase_stage(as_of: date) -> str:
    """One chaser per person, round and day."""
    return f"chase-{as_of.isoformat()}"


def missing_stage(deadline: date) -> str:
    """The coordinator is told once per deadline (an extended round is reported again)."""
    return f"missing-after-{deadline.isoformat()}"


@dataclass(frozen=True)
class Chase:
    """A person still missing replies in an open round, reminded in that day's digest."""

    round_id: int
    label: str
    deadline: date
    contact_id: int
    missing: int
    expected: int


@dataclass
class MissingAfterDeadline:
    """A round whose reply deadline has passed with people still missing."""

    round: ReportingRound
    missing: list[ContactProgress]
    asked: int  # people asked in the round


def _claimed(session: Session, plan_id: int, stages: set[str]) -> set[tuple[str, str, int]]:
    """The (item, stage, contact) claims already made under these stages, in one query."""
    return {
        tuple(row)
        for row in session.exec(
            select(Reminder.item, Reminder.stage, Reminder.contact_id).where(
                Reminder.plan_id == plan_id, Reminder.stage.in_(stages)
            )
        ).all()
    }


def chases_due(session: Session, plan_id: int, as_of: date) -> list[Chase]:
    """Who is chased on ``as_of``: people with unanswered items in an open round, on each
    working day after the round's invitation up to and including its reply deadline, once."""
    if not is_working_day(as_of):
        return []
    rounds = _rounds(
        session,
        ReportingRound.plan_id == plan_id,
        ReportingRound.state == RoundState.OPEN,
        ReportingRound.as_of < as_of,
        ReportingRound.deadline >= as_of,
    )
    stage = chase_stage(as_of)
    claimed = _claimed(session, plan_id, {stage})
    return [
        Chase(rnd.id, rnd.label, rnd.deadline, p.contact.id, p.expected - p.replied, p.expected)
        for rnd in rounds
        for p in progress(session, rnd)
        if not p.complete and (round_token(rnd.id), stage, p.contact.id) not in claimed
    ]


def missing_after_deadline(
    session: Session, plan_id: int, as_of: date, coordinator_id: int
) -> list[MissingAfterDeadline]:
    """Rounds whose deadline passed before ``as_of`` with replies missing, which the
    coordinator has not been told about yet (told on the first working day after it)."""
    if not is_working_day(as_of):
        return []
    rounds = _rounds(
        session,
        ReportingRound.plan_id == plan_id,
        ReportingRound.deadline < as_of,
        ReportingRound.deadline >= as_of - timedelta(days=MISSING_NOTICE_DAYS),
    )
    claimed = _claimed(session, plan_id, {missing_stage(r.deadline) for r in rounds})
    out = []
    for rnd in rounds:
        if (round_token(rnd.id), missing_stage(rnd.deadline), coordinator_id) in claimed:
            continue
        people = progress(session, rnd)
        missing = [p for p in people if not p.complete]
        if missing:
            out.append(MissingAfterDeadline(rnd, missing, len(people)))
    return out
