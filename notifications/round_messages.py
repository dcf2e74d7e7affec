"""Messages of a reporting round: the invitation with each person's own reply link."""

from sqlmodel import Session

from models.items import ItemRef
from models.messages import DigestKind, RecipientRole
from models.reminders import Claim, PlanContext, queue_digests
from models.reporting import ReportingRound
from models.rounds import INVITATION_STAGE, round_token, scope_of
from models.tokens import reply_url
from notifications.reminder_digest import item_label
from notifications.render import date_full, render
from notifications.strings import STRINGS


def compose_invitations(session: Session, ctx: PlanContext, rnd: ReportingRound) -> int:
    """Queue one invitation per person asked in the round (once: the claim is unique)."""
    by_ref = {i.ref: i for i in ctx.items}
    per_contact: dict[int, list] = {}
    for row in scope_of(session, rnd.id):
        per_contact.setdefault(row.contact_id, []).append(by_ref[ItemRef.parse(row.item)])
    coordinator = ctx.contacts.get(ctx.coordinator_id)
    digests = []
    for contact_id, items in per_contact.items():
        contact = ctx.contacts[contact_id]
        language = contact.language.value
        t = STRINGS[language]
        deadline = date_full(rnd.deadline, language)
        rendered = render(
            "round_invitation",
            language,
            subject=t["invite_subject"].format(label=rnd.label, date=deadline),
            recipient=contact.name,
            plan=ctx.plan,
            items=[dict(label=item_label(i, language), title=i.title) for i in items],
            as_of=date_full(rnd.as_of, language),
            deadline=deadline,
            link=reply_url(rnd.id, contact_id),
            coordinator=coordinator.name if coordinator else t["nobody"],
        )
        digests.append(
            rendered.as_digest(
                contact,
                DigestKind.ROUND_INVITATION,
                claims=[
                    Claim(round_token(rnd.id), INVITATION_STAGE, RecipientRole.OWNER, rnd.as_of)
                ],
            )
        )
    return queue_digests(session, ctx.plan.id, rnd.as_of, digests)
