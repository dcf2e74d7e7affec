"""Telling the coordinator who has not answered when a round's reply deadline has passed."""

from datetime import date

from sqlmodel import Session

from models.messages import DigestKind, RecipientRole
from models.reminders import Claim, PlanContext, queue_digests
from models.rounds import missing_after_deadline, missing_stage, round_token
from notifications.render import date_full, render
from notifications.strings import STRINGS


def compose_missing_notices(session: Session, ctx: PlanContext, as_of: date) -> int:
    """Queue one message to the plan's coordinator listing, per round whose deadline has
    passed, the people still missing replies; each round's deadline is reported once."""
    coordinator = ctx.contacts.get(ctx.coordinator_id)
    if coordinator is None:
        return 0
    late = missing_after_deadline(session, ctx.plan.id, as_of, coordinator.id)
    if not late:
        return 0
    language = coordinator.language.value
    t = STRINGS[language]
    rounds = [
        dict(
            heading=t["missing_round"].format(
                label=m.round.label, date=date_full(m.round.deadline, language)
            ),
            lines=[
                t["missing_line"].format(
                    name=p.contact.name,
                    missing=p.expected - p.replied,
                    expected=p.expected,
                )
                for p in m.missing
            ],
        )
        for m in late
    ]
    first = late[0]
    rendered = render(
        "missing_replies",
        language,
        subject=t["subject_missing"].format(
            label=first.round.label, n=len(first.missing), total=first.asked
        ),
        recipient=coordinator.name,
        plan=ctx.plan,
        rounds=rounds,
    )
    digest = rendered.as_digest(
        coordinator,
        DigestKind.MISSING_REPLIES,
        claims=[
            Claim(
                round_token(m.round.id),
                missing_stage(m.round.deadline),
                RecipientRole.ESCALATION,
                as_of,
            )
            for m in late
        ],
    )
    return queue_digests(session, ctx.plan.id, as_of, [digest])
