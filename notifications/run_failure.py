"""Telling a plan's coordinator that a flow run failed, with a link to the run in the UI.

The notice is sent at once to the coordinator's channels (not queued like reminders): it is
an operations alert, one per failed run, and must go out even when the run failed half-way
through a transaction. Which plan: the run's ``plan``/``plan_key`` parameter when it has one,
else every plan's coordinator (a run like send-reminders covers all plans)."""

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import select

from models.db import session_scope
from models.plan import Contact, Plan, PlanRole, PlanRoleKind
from models.settings import get_settings
from notifications.channels import ChannelError, channel_url
from notifications.delivery import send
from notifications.render import render
from notifications.strings import STRINGS


@dataclass(frozen=True)
class RunFailure:
    flow: str
    run_name: str
    run_id: str
    link: str
    message: str
    plan: str | None = None


@dataclass(frozen=True)
class Recipient:
    name: str
    language: str
    channels: tuple[str, ...]


def coordinators(plan_key: str | None) -> list[Recipient]:
    """The coordinator of that plan, or of every plan when it is None (each person once)."""
    with session_scope() as session:
        query = (
            select(Contact)
            .join(PlanRole, PlanRole.contact_id == Contact.id)
            .join(Plan, Plan.id == PlanRole.plan_id)
            .where(PlanRole.role == PlanRoleKind.COORDINATOR)
            .order_by(Plan.key, PlanRole.position)
        )
        if plan_key:
            query = query.where(Plan.key == plan_key)
        people: dict[tuple, Recipient] = {}
        for c in session.exec(query):
            key = (c.name, tuple(c.channels))
            people.setdefault(key, Recipient(c.name, c.language.value, tuple(c.channels)))
        return list(people.values())


def notify_run_failure(
    failure: RunFailure, load_secret: Callable[[str], str] | None = None
) -> list[str]:
    """Send the notice to the coordinators' channels; returns the channels it reached.
    Raises ChannelError listing the channels that failed, after trying all of them."""
    settings = get_settings()
    reached, errors = [], []
    for person in coordinators(failure.plan):
        rendered = render(
            "run_failure",
            person.language,
            subject=STRINGS[person.language]["run_failed_subject"].format(run=failure.run_name),
            recipient=person.name,
            failure=failure,
        )
        for channel in person.channels:
            try:
                url = channel_url(channel, settings, load_secret)
                send(url, rendered.subject, rendered.text, rendered.html)
                reached.append(channel)
            except ChannelError as exc:
                errors.append(f"{channel}: {exc}")
    if errors:
        raise ChannelError("; ".join(errors), permanent=False)
    return reached
