"""Text as people type it, made fit to keep: one kind of line break, no control characters."""

import re

# C0 controls but tab and line feed, DEL, lone surrogates and the noncharacters U+FFFE and
# U+FFFF: no document format holds them (Word's XML refuses them), and PostgreSQL refuses NUL.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def plain_text(value: str | None) -> str:
    """``value`` with line breaks as ``\\n`` (a lone ``\\r`` too: Markdown ends a line there)
    and without control characters, stripped; "" for None."""
    if not value:
        return ""
    return CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


NAME_LENGTH = 200  # who did something: StatusReport.entered_by, RoundEvent.by


def person_name(value: str | None) -> str | None:
    """Who entered a reply or changed a round, as typed: plain text, cut to its column."""
    return plain_text(value)[:NAME_LENGTH] or None
