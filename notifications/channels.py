"""Channels: what a contact's configured address means as an Apprise URL.

A channel is a URL; our code never branches on the service. The plan file may hold an
e-mail address (sent through the mail server in FOLLOWUP_MAIL_URL, or to the outbox when
none is set), an Apprise URL, or a reference to one that carries secrets: ``env:NAME``
(an environment variable) or ``secret:name`` (a Prefect Secret block, loaded by the caller).
URLs are never logged in full: ``redact`` keeps the scheme and host only."""

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

from models.settings import Settings

EMAIL = re.compile(r"^[^@\s:/]+@[^@\s:/]+\.[^@\s:/]+$")


class ChannelError(ValueError):
    """A channel that cannot be used; ``permanent`` when retrying will not help."""

    def __init__(self, message: str, permanent: bool = True):
        super().__init__(message)
        self.permanent = permanent


def outbox_url(outbox: Path, recipient: str) -> str:
    """The project's own channel: one file per message in a folder."""
    folder, to = quote(str(outbox.absolute()), safe=""), quote(recipient, safe="")
    return f"outbox://?path={folder}&to={to}"


def resolve(
    channel: str,
    *,
    outbox: Path,
    mail_url: str | None,
    everything_to_outbox: bool,
    load_secret: Callable[[str], str] | None = None,
) -> str:
    """The Apprise URL to send to for one configured channel."""
    channel = channel.strip()
    if everything_to_outbox:
        return outbox_url(outbox, channel)
    if EMAIL.match(channel):
        if not mail_url:
            return outbox_url(outbox, channel)
        sep = "&" if "?" in mail_url else "?"
        return f"{mail_url}{sep}to={quote(channel, safe='@')}"
    if channel.startswith("env:"):
        name = channel[4:]
        value = os.environ.get(name)
        if not value:
            raise ChannelError(f"environment variable {name} is not set")
        return value.strip()
    if channel.startswith("secret:"):
        if load_secret is None:
            raise ChannelError(f"{channel}: no secret store is available here", permanent=False)
        try:
            return load_secret(channel[7:]).strip()
        except Exception as exc:
            raise ChannelError(
                f"{channel}: cannot load the secret ({exc})", permanent=False
            ) from None
    return channel


def channel_url(
    channel: str,
    settings: Settings,
    load_secret: Callable[[str], str] | None = None,
    *,
    everything_to_outbox: bool | None = None,
) -> str:
    """``resolve`` with the outbox, the mail server and the delivery mode of ``settings``;
    ``everything_to_outbox`` overrides FOLLOWUP_DELIVERY (the doctor checks real channels)."""
    return resolve(
        channel,
        outbox=settings.outbox_dir,
        mail_url=settings.mail_url.get_secret_value() if settings.mail_url else None,
        everything_to_outbox=settings.delivery == "outbox"
        if everything_to_outbox is None
        else everything_to_outbox,
        load_secret=load_secret,
    )


def redact(url: str) -> str:
    """scheme://host/… with credentials, paths and tokens left out: safe for logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if not parts.scheme:
        return "(not a URL)"
    host = parts.hostname or ""
    if "." not in host:  # many services put a token where a host would be
        return f"{parts.scheme}://…"
    return f"{parts.scheme}://{host}{'/…' if parts.path.strip('/') or parts.query else ''}"


def shown_channel(channel: str) -> str:
    """A configured channel as it may be shown (terminal, logs, the Prefect UI): an e-mail
    address or an env:/secret: reference as written, a URL without its secrets."""
    channel = channel.strip()
    if EMAIL.match(channel) or channel.startswith(("env:", "secret:", "(")):
        return channel
    return redact(channel)
