"""Delivering queued messages through Apprise, each delivery on its own.

A delivery is leased before sending (so two runs never send the same one), tried a few
times with backoff within the run, and its outcome recorded: sent, failed (tried again in a
later run) or given up (the coordinator is told). One recipient's broken channel never
stops the others."""

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import apprise
from apprise import NotifyFormat

from models.db import get_engine, quick_commits, session_scope
from models.messages import DeliveryState
from models.reminders import Outgoing, lease, outgoing, record_outcome
from models.settings import Settings
from models.types import utcnow
from notifications.channels import ChannelError, channel_url, redact
from notifications.outbox import text_variant  # importing it registers outbox://

LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ - \w+ - ")


@dataclass
class Outcome:
    delivery_id: int
    recipient: str
    channel: str  # as configured, never the resolved URL
    subject: str
    state: DeliveryState
    error: str | None


def send(
    url: str,
    subject: str,
    text: str,
    html: str,
    attachments: Sequence[str] | None = None,
    sender: apprise.Apprise | None = None,
) -> None:
    """Send one message to one Apprise URL, with files attached when the service takes
    them (e-mail does); raise ChannelError saying why it failed.

    ``sender``: an Apprise manager to reuse, one per batch in one thread (making one, and
    its asset, per message costs about as much as writing the message to the outbox)."""
    sender = sender if sender is not None else apprise.Apprise()
    server = apprise.Apprise.instantiate(url, asset=sender.asset)
    if server is None:
        raise ChannelError(f"not a usable Apprise URL ({redact(url)})", permanent=True)
    attach = None
    if attachments:
        missing = [p for p in attachments if not Path(p).is_file()]
        if missing:
            raise ChannelError(f"attachment not found: {', '.join(missing)}", permanent=True)
        attach = apprise.AppriseAttachment(paths=list(attachments))
    as_html = server.notify_format == NotifyFormat.HTML
    sender.clear()
    sender.add(server)
    token = text_variant.set(text)
    try:
        with apprise.LogCapture(level=apprise.logging.WARNING) as log:
            ok = sender.notify(
                body=html if as_html else text,
                title=subject,
                body_format=NotifyFormat.HTML if as_html else NotifyFormat.TEXT,
                attach=attach,
            )
    finally:
        text_variant.reset(token)
        sender.clear()
    if not ok:
        detail = [
            LOG_PREFIX.sub("", line).strip() for line in log.getvalue().splitlines() if line.strip()
        ]
        reason = detail[-1] if detail else "the service refused the message or did not answer"
        raise ChannelError(f"{redact(url)}: {reason[:300]}", permanent=False)


def deliver(
    delivery_ids: list[int],
    settings: Settings,
    load_secret: Callable[[str], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Send these deliveries: the batch is leased at once (so no other run sends them), then
    each is tried and its outcome committed on its own before the next one."""
    with session_scope() as session:
        taken = lease(session, delivery_ids, utcnow(), settings.delivery_lease_seconds)
        batch = outgoing(session, taken)
    sender = apprise.Apprise()  # this batch's, reused message after message
    backoff = timedelta(seconds=settings.delivery_retry_after_seconds)  # before any send
    outcomes = []
    with quick_commits(get_engine()) as connection:  # an outcome: one UPDATE
        for message in batch:
            error, permanent = _send_with_retries(message, settings, load_secret, sleep, sender)
            with connection.begin():  # each outcome is committed before the next send
                state = record_outcome(
                    connection,
                    message,
                    ok=error is None,
                    now=utcnow(),
                    error=error,
                    permanent=permanent,
                    max_attempts=settings.delivery_max_runs,
                    backoff=backoff,
                )
            outcomes.append(
                Outcome(
                    message.delivery_id,
                    message.recipient,
                    message.channel,
                    message.subject,
                    state,
                    error,
                )
            )
    return outcomes


def _send_with_retries(
    message: Outgoing,
    settings: Settings,
    load_secret: Callable[[str], str] | None,
    sleep: Callable[[float], None],
    sender: apprise.Apprise | None = None,
) -> tuple[str | None, bool]:
    """Try one message a few times with backoff; returns (error or None, permanent)."""
    try:
        url = channel_url(message.channel, settings, load_secret)
    except ChannelError as exc:
        return str(exc), exc.permanent
    error, permanent = None, False
    for attempt in range(settings.delivery_tries_per_run):
        try:
            send(url, message.subject, message.text, message.html, message.attachments, sender)
            return None, False
        except ChannelError as exc:
            error, permanent = str(exc), exc.permanent
            if permanent or attempt + 1 == settings.delivery_tries_per_run:
                break
            sleep(settings.delivery_backoff_seconds * 2**attempt)
    return error, permanent
