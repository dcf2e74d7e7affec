"""Reporting rounds as flows.

open-status-round: open the round (its items, who is asked), send each person one
invitation with their own reply link, start one reply run per person in Prefect (they wait,
suspended, so coordinators see outstanding replies as suspended runs), publish progress.

collect-status-reply: one person's reply run. It waits for input; a reply through the
Prefect UI's Resume form is validated and recorded exactly like a web reply. When the reply
came another way (web form, coordinator), the run is resumed with a note and completes.

reconcile-reply-runs: the database is the source of truth. Replies taken while Prefect was
down are matched to their waiting runs later, which are then resumed.

close-status-round: close the round, release the runs still waiting, publish progress,
and build the ministry's summary of the round.

reopen-status-round: open a closed round again; whoever has not answered waits again.

close-due-rounds: each working morning, close the rounds whose reply deadline has passed."""

from datetime import date
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.flow_runs import resume_flow_run, suspend_flow_run
from prefect.runtime import flow_run

from flows.build_summary import build_summary
from flows.deliveries import deliver_queued
from flows.hooks import notify_failure
from flows.round_artifacts import refresh_round_artifacts
from flows.round_input import replies_from_input, reply_input_model
from models.calendar import is_working_day, today
from models.db import session_scope
from models.items import ItemRef
from models.plan import Contact, Plan
from models.reminders import load_context, lock_plan
from models.replies import record_reply
from models.reporting import ReplyChannel, ReportingRound, RoundContact, RoundState
from models.rounds import (
    close_round,
    get_round,
    has_replied,
    open_round,
    reopen_round,
    round_contacts,
    rounds_past_deadline,
    scope_of,
    unresolved_runs,
)
from models.text import person_name
from notifications.round_messages import compose_invitations

REPLY_DEPLOYMENT = "collect-status-reply/collect-status-reply"


# ---------------------------------------------------------------------------- opening


@task(name="open-round")
def create_round(label: str, as_of: date, deadline: date, plan: str | None) -> int:
    with session_scope() as session:
        rnd = open_round(
            session,
            label=label,
            as_of=as_of,
            deadline=deadline,
            plan_key=plan,
            by="open-status-round",
        )
        rnd.flow_run_id = str(flow_run.id) if flow_run.id else None
        return rnd.id


@task(name="queue-invitations")
def queue_invitations(round_id: int) -> int:
    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        lock_plan(session, rnd.plan_id)
        return compose_invitations(
            session, load_context(session, session.get(Plan, rnd.plan_id)), rnd
        )


@task(name="start-reply-runs")
def start_reply_runs(round_id: int) -> int:
    """One waiting reply run per person, when the reply deployment is served; else none
    (web replies work without them)."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    logger = get_run_logger()
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(REPLY_DEPLOYMENT)
    except ObjectNotFound:
        logger.warning(
            "no deployment %s: replies are taken by the web form and the CLI only "
            "(start `followup up` to see them as runs in the UI)",
            REPLY_DEPLOYMENT,
        )
        return 0
    started = 0
    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        todo = [
            (rc.id, rc.contact_id, session.get(Contact, rc.contact_id).name)
            for rc in round_contacts(session, round_id)
            if rc.flow_run_id is None
        ]
        label = rnd.label
    for rc_id, contact_id, name in todo:
        run = run_deployment(
            REPLY_DEPLOYMENT,
            parameters={"round_id": round_id, "contact_id": contact_id},
            timeout=0,
            as_subflow=False,
            flow_run_name=f"status {name} · {label}",
        )
        with session_scope() as session:
            session.get(RoundContact, rc_id).flow_run_id = str(run.id)
        started += 1
    return started


def _open_run_name() -> str:
    """'open-status-round opptrapping-bu-2019 1. tertial 2021 2021-04-30': plan, label, date."""
    p = flow_run.parameters
    return " ".join(
        str(part)
        for part in ("open-status-round", p.get("plan"), p.get("label"), p.get("as_of"))
        if part
    )


@flow(name="open-status-round", flow_run_name=_open_run_name, on_failure=[notify_failure])
def open_status_round(label: str, as_of: date, deadline: date, plan: str | None = None) -> int:
    """Open a reporting round: invite everyone responsible, each with a personal link.

    Args:
        label: Rundens navn, f.eks. «1. tertial 2021». / The round's name, e.g.
            "1. tertial 2021".
        as_of: Datoen statusen gjelder. / The date the status is asked as of.
        deadline: Svarfrist. / The reply deadline.
        plan: Planens nøkkel (tom når det er én plan). / The plan's key (empty when there
            is one plan).
    """
    round_id = create_round(label, as_of, deadline, plan)
    invited = queue_invitations(round_id)
    outcomes = deliver_queued()
    runs = start_reply_runs(round_id)
    refresh_round_artifacts(round_id)
    get_run_logger().info(
        "round %s opened: %s invitations (%s delivered), %s reply runs",
        round_id,
        invited,
        sum(o.state == "sent" for o in outcomes),
        runs,
    )
    return round_id


# ---------------------------------------------------------------------------- replying


def _reply_run_name() -> str:
    """'status Kari Nordmann · 1. tertial 2021': who, and which round."""
    params = flow_run.parameters
    with session_scope() as session:
        contact = session.get(Contact, params.get("contact_id"))
        rnd = session.get(ReportingRound, params.get("round_id"))
        if contact is None or rnd is None:
            return f"status contact {params.get('contact_id')} · round {params.get('round_id')}"
        return f"status {contact.name} · {rnd.label}"


@flow(
    name="collect-status-reply",
    flow_run_name=_reply_run_name,
    persist_result=True,
    on_failure=[notify_failure],
)
def collect_status_reply(round_id: int, contact_id: int) -> str:
    """Wait for one person's status reply in a round (resume the run to give it).

    Args:
        round_id: Rapporteringsrundens id. / The reporting round's id.
        contact_id: Id-en til personen som skal svare. / The id of the person to answer.
    """
    logger = get_run_logger()
    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        contact = session.get(Contact, contact_id)
        refs = [ItemRef.parse(r.item) for r in scope_of(session, round_id, contact_id)]
        ctx = load_context(session, session.get(Plan, rnd.plan_id))
        items = [i for i in ctx.items if i.ref in set(refs)]
        language = contact.language.value
        if rnd.state != RoundState.OPEN:
            settled = "the round is closed"
        elif has_replied(session, round_id, contact_id) and not _resumed_with_input():
            settled = "answered already"
        else:
            settled = None
    if settled:  # outside the session above: _resolved writes in a transaction of its own
        return _resolved(round_id, contact_id, settled)
    model = reply_input_model(items, language)
    attempt = 0
    while True:
        reply = suspend_flow_run(wait_for_input=model, key=f"reply-{attempt}")
        replies, errors = replies_from_input(reply, items, rnd)
        if reply.recorded_via and not replies:  # statuses typed in the form still count
            return _resolved(round_id, contact_id, f"answered via {reply.recorded_via}")
        if not errors:
            break
        for error in errors:
            logger.error("reply not recorded: %s; resume the run again with this corrected", error)
        attempt += 1
    with session_scope() as session:
        record_reply(
            session,
            session.get(ReportingRound, round_id),
            contact_id,
            replies,
            channel=ReplyChannel.PREFECT_UI,
            entered_by=person_name(reply.entered_by) or "Prefect UI",
            submission=f"prefect-{flow_run.id}-{attempt}",
        )
    refresh_round_artifacts(round_id)
    return _resolved(round_id, contact_id, f"recorded {len(replies)} item(s) from the Prefect UI")


def _resumed_with_input() -> bool:
    """Whether this run was resumed with a Resume form before. A suspended run starts over
    when resumed, so a reply given in the UI must be read even if another reply for the
    person (a phone call, one item by web) came in meanwhile. The key is Prefect's for the
    first suspend_flow_run(key="reply-0") of a run: "<state name>-<key>"."""
    from prefect.input.actions import read_flow_run_input
    from prefect.input.run_input import keyset_from_base_key

    return read_flow_run_input(keyset_from_base_key("suspended-reply-0")["response"]) is not None


def _resolved(round_id: int, contact_id: int, note: str) -> str:
    with session_scope() as session:
        for rc in round_contacts(session, round_id):
            if rc.contact_id == contact_id:
                rc.run_resolved = True
    return note


def resume_waiting_run(flow_run_id: str, via: str) -> bool:
    """Resume a reply run whose reply came another way; False if it was not waiting."""
    from prefect.exceptions import ObjectNotFound
    from prefect.flow_runs import NotPausedError

    try:
        resume_flow_run(UUID(flow_run_id), run_input={"recorded_via": via})
        return True
    except (NotPausedError, ObjectNotFound):
        return False


@flow(name="reconcile-reply-runs", on_failure=[notify_failure])
def reconcile_reply_runs(round_id: int | None = None) -> int:
    """Resume the reply runs of people who answered another way (or whose round closed).

    Args:
        round_id: Bare denne runden (tom: alle runder). / Only this round (empty: all).
    """
    resumed = 0
    with session_scope() as session:
        pending = [
            (
                rc.id,
                rc.round_id,
                rc.contact_id,
                rc.flow_run_id,
                session.get(ReportingRound, rc.round_id).state,
            )
            for rc in unresolved_runs(session, round_id)
        ]
        answered = {rc_id for rc_id, rid, cid, _, _ in pending if has_replied(session, rid, cid)}
    for rc_id, _rid, _, run_id, state in pending:
        if rc_id in answered or state == RoundState.CLOSED:
            via = "web" if rc_id in answered else "round-closed"
            resumed += resume_waiting_run(run_id, via)
            with session_scope() as session:
                session.get(RoundContact, rc_id).run_resolved = True
    for rid in {rid for _, rid, _, _, _ in pending}:
        refresh_round_artifacts(rid)
    return resumed


# ---------------------------------------------------------------------------- closing


def _close_run_name() -> str:
    """'close-status-round round 3' or 'close-status-round opptrapping-bu-2019 (open round)'."""
    p = flow_run.parameters
    if p.get("round_id"):
        return f"close-status-round round {p['round_id']}"
    return " ".join(("close-status-round", p.get("plan") or "", "(open round)")).replace("  ", " ")


@flow(name="close-status-round", flow_run_name=_close_run_name, on_failure=[notify_failure])
def close_status_round(
    round_id: int | None = None, plan: str | None = None, summary: bool = True
) -> int:
    """Close a round: no more replies by link; waiting reply runs are released; the
    ministry's follow-up summary of the round is built and sent (unless ``summary`` is off).

    Args:
        round_id: Rundens id (tom: planens åpne runde). / The round's id (empty: the plan's
            open round).
        plan: Planens nøkkel (tom når det er én plan). / The plan's key (empty when there
            is one plan).
        summary: Lag og send oppfølgingsrapporten for runden. / Build and send the round's
            follow-up summary.
    """
    with session_scope() as session:
        rnd = get_round(session, round_id, plan, state=None if round_id else RoundState.OPEN)
        close_round(session, rnd, by="close-status-round")
        round_id = rnd.id
    reconcile_reply_runs(round_id)
    refresh_round_artifacts(round_id)
    if summary:
        build_summary(round=round_id)
    return round_id


@flow(name="reopen-status-round", on_failure=[notify_failure])
def reopen_status_round(
    round_id: int, deadline: date | None = None, by: str = "coordinator"
) -> int:
    """Reopen a closed round (logged): its links work again, and whoever has not answered
    every item gets a waiting reply run again. Returns the runs started.

    Args:
        round_id: Rundens id. / The round's id.
        deadline: Ny svarfrist (tom: den gamle). / A new reply deadline (empty: the old one).
        by: Hvem som åpner runden igjen. / Who reopens the round.
    """
    with session_scope() as session:
        reopen_round(session, get_round(session, round_id), deadline, by)
    started = start_reply_runs(round_id)
    refresh_round_artifacts(round_id)
    return started


@flow(
    name="close-due-rounds",
    flow_run_name=lambda: f"close-due-rounds {flow_run.parameters.get('as_of') or today()}",
    on_failure=[notify_failure],
)
def close_due_rounds(as_of: date | None = None) -> list[int]:
    """Each working morning: close the rounds whose reply deadline has passed, and send
    their summaries. A deadline on a Friday is closed on Monday, never at the weekend.

    Args:
        as_of: Dagen fristene vurderes ut fra (tom: i dag i Oslo). / The day to judge
            deadlines by (empty: today in Oslo).
    """
    day = as_of or today()
    if not is_working_day(day):
        get_run_logger().info("%s is not a working day: no round is closed", day)
        return []
    with session_scope() as session:
        due = [rnd.id for rnd in rounds_past_deadline(session, day)]
    return [close_status_round(round_id=round_id) for round_id in due]
