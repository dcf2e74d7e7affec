"""The outbox: an Apprise channel of our own that writes each message to a file.

It is the embedded default (no mail server needed) and what the tests and the demo read.
Each file is JSON with the recipient, subject, text and HTML of one message."""

import json
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apprise import NotifyFormat
from apprise.conversion import convert_between
from apprise.decorators import notify
from apprise.manager_plugins import NotificationManager

# The plain-text variant of the message being sent. Apprise hands a plugin one body; the
# sender sets this around the call so the outbox can keep both variants, like an e-mail.
text_variant: ContextVar[str | None] = ContextVar("text_variant", default=None)


@notify(on="outbox", name="followup outbox")
def _write(body: str, title: str, notify_type: str, body_format=None, meta=None, **_) -> bool:
    query = (meta or {}).get("qsd", {})
    folder = Path(query.get("path") or "outbox")
    folder.mkdir(parents=True, exist_ok=True)
    is_html = body.lstrip().startswith("<")
    now = datetime.now(UTC)
    record = {
        "to": query.get("to", ""),
        "subject": title,
        "text": text_variant.get()
        or (convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, body) if is_html else body),
        "html": body if is_html else None,
        "written_at": now.isoformat(),
    }
    # A unique name per write: a message sent twice would show as two files.
    name = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
    tmp = folder / f".{name}.tmp"
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.rename(folder / name)
    return True


# The outbox keeps HTML as it is (like e-mail); decorator plugins default to plain text.
NotificationManager()["outbox"].notify_format = NotifyFormat.HTML


@dataclass
class OutboxMessage:
    path: Path
    to: str
    subject: str
    text: str
    html: str | None
    written_at: str


def read_outbox(folder: Path) -> list[OutboxMessage]:
    """Every message in the outbox, oldest first."""
    if not folder.exists():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append(OutboxMessage(path=path, **data))
    return out
