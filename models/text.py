"""Text as people type it, made fit to keep: one kind of line break, no control characters."""

import re

# C0 controls but tab and line feed, and DEL: no document format holds them, and PostgreSQL
# refuses NUL in text outright.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plain_text(value: str | None) -> str:
    """``value`` with line breaks as ``\\n`` (a lone ``\\r`` too: Markdown ends a line there)
    and without control characters, stripped; "" for None."""
    if not value:
        return ""
    return CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
