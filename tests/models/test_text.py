"""Text as people type it, made fit to keep."""

from models.text import plain_text


def test_line_breaks_become_one_kind_and_control_characters_go():
    assert plain_text("a\r\nb\rc\nd") == "a\nb\nc\nd"
    assert plain_text("  Ferdig\x00 med\x07 del\x1b 1\x7f \t ") == "Ferdig med del 1"
    assert plain_text("tab\tstays") == "tab\tstays"
    assert plain_text("Ærlig talt – «ferdig» ✓") == "Ærlig talt – «ferdig» ✓"


def test_nothing_is_empty():
    assert plain_text(None) == "" and plain_text("") == "" and plain_text(" \r\n ") == ""
