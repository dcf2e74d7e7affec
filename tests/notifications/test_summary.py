"""The summary's documents: the same counts in every format, escaped user text, every
language, bad input, and an accessible HTML page in a real browser."""

import csv
import json
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import docx
import pytest
from sqlmodel import select

from models.db import session_scope
from models.plan import Measure
from models.reporting import ReportingRound, StatusReport
from models.rollup import STATES, compute_rollup
from notifications.render import md
from notifications.summary import render_html, render_markdown, summary_view, write_summary
from notifications.summary_strings import WORDS
from tests.models.test_rollup import plan  # noqa: F401 (the fixture)
from tests.plans import import_plan_data, plan_data

LONG = "lang " * 2000


def rollup_of(**kw):
    with session_scope() as s:
        return compute_rollup(s, **kw)


@pytest.fixture
def hostile(plan):  # noqa: F811
    """The plan fixture plus a reply full of markup and a very long text."""
    with session_scope() as s:
        m4 = s.exec(select(Measure).where(Measure.number == 4)).one()
        s.add(
            StatusReport(
                plan_id=m4.plan_id,
                measure_id=m4.id,
                round_id=plan["r2"],
                status="at_risk",
                done="**fet** | pipe <b>bold</b> [lenke](http://x) <script>alert(1)</script>",
                next_steps=LONG,
                risk_note="# overskrift\n- liste & <img src=x onerror=alert(1)>",
                submitted_at=datetime(2020, 6, 4, 8, tzinfo=UTC),
            )
        )
    return plan


class Cells(HTMLParser):
    """Rows of the table with a given id, as lists of cell texts."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.depth, self.rows, self.cell = table_id, 0, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.depth = 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        elif tag == "table":
            self.depth = 0

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def html_rows(html: str, table_id: str) -> list[list[str]]:
    parser = Cells(table_id)
    parser.feed(html)
    return parser.rows


def test_every_format_carries_the_same_counts(hostile, tmp_path):
    r = rollup_of(round_id=hostile["r2"])
    files = write_summary(r, "en", tmp_path / "out")
    labels = {s: label for s, label, _, _ in summary_view(r, "en").states}
    expected = {labels[s]: r.totals.by_state[s] for s in STATES}
    assert sum(expected.values()) == r.totals.total == 6

    html = files.html.read_text(encoding="utf-8")
    rows = html_rows(html, "status-counts")[1:-1]  # header and total left out
    assert {row[0]: int(row[2]) for row in rows} == expected

    text = files.markdown.read_text(encoding="utf-8")
    block = text.split("| Status | Colour | Count |", 1)[1].split("\n\n", 1)[0]
    md_counts = {
        cells[0]: int(cells[2])
        for line in block.strip().splitlines()[1:]
        if (cells := [c.strip() for c in line.strip("|").split("|")])[0] in expected
    }
    assert md_counts == expected

    document = docx.Document(str(files.docx))
    status_table = next(t for t in document.tables if t.rows[0].cells[0].text == "Status")
    word = {row.cells[0].text: int(row.cells[2].text) for row in status_table.rows[1:-1]}
    assert word == expected

    with files.csv.open(encoding="utf-8-sig") as f:
        items = list(csv.DictReader(f))
    assert {labels[s]: sum(1 for i in items if i["status_code"] == s) for s in STATES} == expected

    data = json.loads(files.json.read_text(encoding="utf-8"))
    assert data["totals"]["by_state"] == r.totals.by_state
    assert len(data["items"]) == r.totals.total

    # Per-ministry totals agree between HTML and Word too.
    ministry_html = {row[0]: row[1:4] for row in html_rows(html, "by-ministry")[1:]}
    ministry_word = next(t for t in document.tables if t.rows[0].cells[0].text == "Ministry")
    assert {
        row.cells[0].text: [c.text for c in row.cells[1:4]] for row in ministry_word.rows[1:]
    } == ministry_html
    assert ministry_html["HOD (Helse- og omsorgsdepartementet)"] == ["4", "0", "4"]


def test_user_text_is_escaped_in_html_and_markdown_and_long_text_shortened(hostile, tmp_path):
    r = rollup_of(round_id=hostile["r2"])
    view = summary_view(r, "nb")
    html = render_html(view)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert LONG not in html and WORDS["nb"]["shortened"] in html
    text = render_markdown(view)
    assert "\\*\\*fet\\*\\* \\| pipe \\<b\\>bold\\</b\\> \\[lenke\\](http://x)" in text
    assert "\\# overskrift / - liste \\& \\<img" in text
    for line in text.splitlines():  # no user text breaks a table row
        if line.startswith("| **Tiltak 4"):
            assert line.count(" | ") == 5 and line.endswith("|")
    data = json.loads(write_summary(r, "nb", tmp_path).json.read_text(encoding="utf-8"))
    item = next(i for i in data["items"] if i["label"] == "4")
    assert item["next_steps"] == LONG.strip() or item["next_steps"] == LONG


def test_markdown_escaping_function():
    assert md("a|b *c* <x> _d_ [e](f) `g` ~h~") == (
        "a\\|b \\*c\\* \\<x\\> \\_d\\_ \\[e\\](f) \\`g\\` \\~h\\~"
    )
    assert md("one\n\ntwo") == "one / two"
    # CommonMark ends a line at a lone CR too: a table row would split, a "- " start a list
    assert md("first\r- injected | cell") == "first / - injected \\| cell"
    assert md("a\r\nb") == "a / b"


@pytest.mark.parametrize("language", ["nb", "nn", "en"])
def test_every_language_renders_every_format(plan, tmp_path, language):  # noqa: F811
    assert set(WORDS[language]) == set(WORDS["nb"])
    r = rollup_of(round_id=plan["r2"])
    files = write_summary(r, language, tmp_path)
    html = files.html.read_text(encoding="utf-8")
    assert f'<html lang="{language}">' in html
    heading = {"nb": "Sammendrag", "nn": "Samandrag", "en": "Summary"}[language]
    assert f">{heading}</h2>" in html
    document = docx.Document(str(files.docx))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    w = WORDS[language]
    assert headings == [
        w["summary"],
        w["responsibility"],
        w["timeline"],
        w["per_goal"],
        w["assignments"],
        w["missing"],
        w["priority_list"],
    ]
    goal_tables = [t for t in document.tables if t.rows[0].cells[0].text == w["measure"]]
    # two goals: a responsibility table and a status table each (and one with no goal)
    assert sum(len(t.rows) - 1 for t in goal_tables) == 2 * 5
    assert "<svg" in html and 'role="img"' in html


def test_status_text_beside_every_colour(plan):  # noqa: F811
    r = rollup_of(round_id=plan["r2"])
    html = render_html(summary_view(r, "en"))
    for badge in re.findall(r'<span class="badge rag-\w+">([^<]*)</span>', html):
        assert badge.strip()
    assert "unknown status “paused-legacy”" in html
    timeline = summary_view(r, "en").timeline_svg
    assert "Measure 1 · delayed" in timeline and "Status as of" in timeline


def test_a_plan_with_no_measures_and_a_round_with_no_replies(engine, tmp_path):
    import_plan_data(tmp_path, plan_data([], []))
    with session_scope() as s:
        from models.queries import get_plan

        rnd = ReportingRound(
            plan_id=get_plan(s).id, label="Tom", as_of=date(2020, 6, 1), deadline=date(2020, 6, 8)
        )
        s.add(rnd)
        s.flush()
        rid = rnd.id
    files = write_summary(rollup_of(round_id=rid), "nb", tmp_path / "out")
    html = files.html.read_text(encoding="utf-8")
    assert WORDS["nb"]["note_no_measures"] in html and WORDS["nb"]["note_no_scope"] in html
    assert WORDS["nb"]["timeline_empty"] in html
    assert docx.Document(str(files.docx)).paragraphs
    assert files.csv.read_text(encoding="utf-8-sig").count("\n") == 1  # the header only


def test_as_of_mode_folder_and_csv_formula_guard(plan, tmp_path):  # noqa: F811
    from notifications.summary import report_folder

    r = rollup_of(as_of=date(2020, 5, 20))
    assert report_folder(r, tmp_path).parts[-2:] == ("testplan", "as-of-2020-05-20")
    r2 = rollup_of(round_id=plan["r2"])
    assert report_folder(r2, tmp_path).name == f"round-{plan['r2']}-juni"
    from notifications.summary_data import _csv_value

    assert _csv_value("=HYPERLINK(x)") == "'=HYPERLINK(x)" and _csv_value("-5") == "-5"


@pytest.mark.browser
def test_html_is_accessible_in_chromium(hostile, tmp_path):
    from tests.browser import browser_page, serious_violations

    r = rollup_of(round_id=hostile["r2"])
    files = write_summary(r, "nb", tmp_path)
    with browser_page() as page:
        page.goto(files.html.as_uri())
        assert page.locator("h1").count() == 1
        assert page.locator("h2").count() >= 7
        assert serious_violations(page) == []
        # Nothing the users typed ran as script.
        assert page.evaluate("typeof window.__x") == "undefined"
        assert page.locator("script").count() == 0


def test_characters_word_refuses_do_not_stop_the_summary(hostile, tmp_path):
    """Names and texts as they were typed may hold a form feed or U+FFFE, which Word's XML
    refuses: the summary is still written, in every format, without them."""
    from models.plan import Contact, Organisation

    with session_scope() as s:
        for org in s.exec(select(Organisation)).all():
            org.name = f"{org.name}\x0c\ufffe"
        for person in s.exec(select(Contact)).all():
            person.name = f"{person.name}\x0b"
        report = s.exec(select(StatusReport)).first()
        report.done = "Ferdig\uffff med \x1bdel 1"
    files = write_summary(rollup_of(round_id=hostile["r2"]), "nb", tmp_path)
    text = "\n".join(p.text for p in docx.Document(str(files.docx)).paragraphs)
    assert text and not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", text)
    html = files.html.read_text(encoding="utf-8")
    assert "\x0c" not in html and "\ufffe" not in html
