"""Telling the coordinator which messages could not be delivered, once per delivery."""

from datetime import date

from sqlmodel import Session

from models.messages import Delivery, Digest, DigestKind, RecipientRole
from models.plan import Contact
from models.reminders import Claim, PlanContext, queue_digests
from notifications.render import render
from notifications.strings import STRINGS


def compose_failure_notices(
    session: Session, ctx: PlanContext, as_of: date, failed: list[tuple[Delivery, Digest]]
) -> int:
    """Queue one notice to the coordinator listing ``failed``, the deliveries given up on
    since the last one (undelivered_unreported)."""
    coordinator: Contact | None = ctx.contacts.get(ctx.coordinator_id)
    if coordinator is None or not failed:
        return 0
    lines = [
        dict(
            recipient=ctx.contacts[digest.contact_id].name,
            channel=delivery.channel,
            error=delivery.last_error or "",
            subject=digest.subject,
        )
        for delivery, digest in failed
    ]
    language = coordinator.language.value
    rendered = render(
        "delivery_failure",
        language,
        subject=STRINGS[language]["failure_subject"].format(
            n=len({line["recipient"] for line in lines}), plan=ctx.plan.title
        ),
        recipient=coordinator.name,
        plan=ctx.plan,
        lines=lines,
    )
    return queue_digests(
        session,
        ctx.plan.id,
        as_of,
        [
            rendered.as_digest(
                coordinator,
                DigestKind.DELIVERY_FAILURE,
                claims=[
                    Claim(f"delivery:{delivery.id}", "given-up", RecipientRole.ESCALATION, as_of)
                    for delivery, _ in failed
                ],
            )
        ],
    )
