"""The reminder log: every claim with its recipient and what became of each delivery."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, select

from models.messages import Delivery, DeliveryState, Digest, Reminder
from models.plan import Contact
from models.queries import get_plan


@dataclass
class LogRow:
    as_of: date
    item: str
    stage: str
    recipient: str
    role: str
    channel: str | None
    state: str
    attempts: int
    error: str | None
    sent_at: datetime | None


def reminder_log(
    session: Session,
    plan_key: str | None = None,
    as_of: date | None = None,
    only_failed: bool = False,
) -> list[LogRow]:
    plan = get_plan(session, plan_key)
    query = (
        select(Reminder, Contact.name, Delivery)
        .join(Contact, Contact.id == Reminder.contact_id)
        .join(Digest, Digest.id == Reminder.digest_id, isouter=True)
        .join(Delivery, Delivery.digest_id == Digest.id, isouter=True)
        .where(Reminder.plan_id == plan.id)
        .order_by(Reminder.as_of, Reminder.id, Delivery.id)
    )
    if as_of is not None:
        query = query.where(Reminder.as_of == as_of)
    rows = []
    for reminder, name, delivery in session.exec(query).all():
        state = delivery.state.value if delivery else "queued"
        if only_failed and state == DeliveryState.SENT.value:
            continue
        rows.append(
            LogRow(
                as_of=reminder.as_of,
                item=reminder.item,
                stage=reminder.stage,
                recipient=name,
                role=reminder.role.value,
                channel=delivery.channel if delivery else None,
                state=state,
                attempts=delivery.attempts if delivery else 0,
                error=delivery.last_error if delivery else None,
                sent_at=delivery.sent_at if delivery else None,
            )
        )
    return rows
