"""The steps of a reminder run as plain functions (the flow wraps each in a task):
queue what is due, send what is queued, tell coordinators what could not be sent."""

from datetime import date

from models.db import session_scope
from models.plan import Plan
from models.reminders import (
    deliveries_to_send,
    due_reminders,
    load_context,
    lock_plan,
    plans,
    unclaimed,
    undelivered_unreported,
)
from models.rounds import chases_due
from models.types import utcnow
from notifications.failure_notice import compose_failure_notices
from notifications.missing_notice import compose_missing_notices
from notifications.reminder_digest import (
    compose_reminder_digests,
    per_recipient,
    render_reminder_digest,
)


def queue_reminders(as_of: date) -> tuple[int, int]:
    """Claim the reminders and round chasers due on ``as_of`` and queue one digest per
    person (and the coordinator's notice of replies missing after a round's deadline), one
    transaction per plan; returns (reminders claimed, digests queued)."""
    claimed_total = digests = 0
    with session_scope() as session:
        plan_ids = [p.id for p in plans(session)]
    for plan_id in plan_ids:
        with session_scope() as session:
            lock_plan(session, plan_id)
            ctx = load_context(session, session.get(Plan, plan_id))
            due = unclaimed(session, plan_id, due_reminders(ctx, as_of))
            chases = chases_due(session, plan_id, as_of)
            digests += compose_reminder_digests(session, ctx, as_of, due, chases)
            digests += compose_missing_notices(session, ctx, as_of)
            claimed_total += len(due) + len(chases)
    return claimed_total, digests


def queue_failure_notices(as_of: date) -> int:
    """Queue a notice to each plan's coordinator of deliveries given up on; returns how many."""
    notices = 0
    with session_scope() as session:
        plan_ids = [p.id for p in plans(session)]
    for plan_id in plan_ids:
        with session_scope() as session:
            lock_plan(session, plan_id)
            failed = undelivered_unreported(session, plan_id)
            if not failed:
                continue  # nobody to tell: the plan's people need not be loaded
            # The notice names people, not items: the plan's items are not loaded.
            ctx = load_context(session, session.get(Plan, plan_id), items=False)
            notices += compose_failure_notices(session, ctx, as_of, failed)
    return notices


def pending_deliveries() -> list[int]:
    with session_scope() as session:
        return deliveries_to_send(session, utcnow())


def preview_reminders(as_of: date) -> list[dict]:
    """What a run would send, rendered, without claiming or sending anything."""
    previews = []
    with session_scope() as session:
        for plan in plans(session):
            ctx = load_context(session, plan)
            due = unclaimed(session, plan.id, due_reminders(ctx, as_of))
            chases = chases_due(session, plan.id, as_of)
            for contact_id, entries, requests in per_recipient(due, chases):
                contact = ctx.contacts[contact_id]
                rendered = render_reminder_digest(ctx, contact, entries, as_of, requests)
                previews.append(
                    dict(
                        recipient=contact.name,
                        channels=list(contact.channels),
                        subject=rendered.subject,
                        text=rendered.text,
                    )
                )
    return previews
