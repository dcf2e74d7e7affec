"""The summary as a Word document (python-docx), for ministries that edit in Word.

Headings use Word's own heading styles (so the navigation pane and a table of contents work);
tables have a header row repeated on every page. Large tables are built as XML in one go:
python-docx adds cells one by one in quadratic time, far too slow for ten thousand rows."""

from pathlib import Path
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Cm, Pt

SHADE = {"green": "DCEFDC", "amber": "FFF1C7", "red": "FADBD8", "grey": "ECECEC"}
HEADER_SHADE = "E6E6E6"


def _runs(text: str, bold: bool = False) -> str:
    """A paragraph's runs for text with line breaks, escaped for XML."""
    props = "<w:rPr><w:b/></w:rPr>" if bold else ""
    text = str(text)
    if "\n" not in text:
        return f'<w:r>{props}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'
    lines = text.split("\n")
    inner = "<w:br/>".join(f'<w:t xml:space="preserve">{escape(line)}</w:t>' for line in lines)
    return f"<w:r>{props}{inner}</w:r>"


def _cell(parts: list[tuple[str, bool]] | str, shade: str | None = None, width: int = 0) -> str:
    """One table cell: a text, or (text, bold) paragraphs; optionally shaded."""
    if isinstance(parts, str):
        parts = [(parts, False)]
    props = f'<w:tcW w:w="{width}" w:type="dxa"/>' if width else ""
    if shade:
        props += f'<w:shd w:val="clear" w:color="auto" w:fill="{shade}"/>'
    paragraphs = "".join(f"<w:p>{_runs(t, b)}</w:p>" for t, b in parts if t is not None) or "<w:p/>"
    return f"<w:tc><w:tcPr>{props}</w:tcPr>{paragraphs}</w:tc>"


def add_table(doc, header: list[str], rows: list[list], widths: list[int] | None = None) -> None:
    """Append a table (header row repeated on each page) built as one XML string.

    A row is a list of cells; a cell is a text, a list of (text, bold), or a dict with
    ``parts`` and ``shade``."""
    widths = widths or [0] * len(header)
    head = "".join(_cell([(h, True)], HEADER_SHADE, w) for h, w in zip(header, widths, strict=True))
    body = []
    for row in rows:
        cells = []
        for cell, width in zip(row, widths, strict=True):
            if isinstance(cell, dict):
                cells.append(_cell(cell["parts"], cell.get("shade"), width))
            else:
                cells.append(_cell(cell if isinstance(cell, list) else str(cell), None, width))
        body.append(f"<w:tr><w:trPr><w:cantSplit/></w:trPr>{''.join(cells)}</w:tr>")
    grid = "".join(f'<w:gridCol w:w="{w or 1000}"/>' for w in widths)
    xml = (
        f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="TableGrid"/>'
        '<w:tblW w:w="5000" w:type="pct"/><w:tblLook w:val="04A0" w:firstRow="1"/></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>"
        f"<w:tr><w:trPr><w:tblHeader/><w:cantSplit/></w:trPr>{head}</w:tr>"
        f"{''.join(body)}</w:tbl>"
    )
    body_element = doc.element.body
    body_element.sectPr.addprevious(parse_xml(xml))
    doc.add_paragraph()


def _status(r) -> dict:
    parts = [(f"{r.status} ({r.rag_text})", True)]
    if r.late:
        parts.append((r.late, True))
    if r.progress:
        parts.append((r.progress, False))
    if r.change:
        parts.append((f"({r.change})", False))
    return {"parts": parts, "shade": SHADE[r.rag]}


def _item(r) -> list[tuple[str, bool]]:
    return [(r.label, True), (r.title, False)]


def _counts(doc, view, groups, first: str, with_lead: bool) -> None:
    w = view.w
    header = [first] + ([w["lead"], w["shared"]] if with_lead else []) + [w["total"]]
    header += [label for _, label, _ in view.rags] + [w["state_no_reply"], w["overdue_total"]]
    rows = [
        [g.name]
        + ([g.lead, g.shared] if with_lead else [])
        + [g.total, *g.by_rag, g.no_reply, g.overdue]
        for g in groups
    ]
    add_table(doc, header, rows)


def _list(doc, rows, more: int, view, show: str = "") -> None:
    w = view.w
    if not rows:
        doc.add_paragraph(w["nothing"])
    for r in rows:
        text = f"{r.label}: {r.title} — {r.status} ({r.rag_text})"
        if r.late:
            text += f", {r.late}"
        if show == "change" and r.change:
            text += f" ({r.change})"
        if show == "risk" and r.comment_short:
            text += f": {r.comment_short}"
        doc.add_paragraph(text, style="List Bullet")
    if more:
        doc.add_paragraph(w["more"].format(n=more))


def build_docx(view):
    """The summary as a python-docx Document, in the view's language."""
    w = view.w
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for margin in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, margin, Cm(1.8))
    doc.styles["Normal"].font.name = "Arial"
    doc.styles["Normal"].font.size = Pt(10)
    doc.core_properties.title = view.title
    doc.core_properties.language = view.language

    doc.add_heading(view.title, level=0)
    meta = [
        (w["round"], view.round_label),
        (w["as_of"], view.as_of),
        (w["reply_deadline"], view.reply_deadline),
        (w["previous_round"], view.previous_round),
        ("Ref.", view.plan_reference),
        (w["produced"], view.produced),
    ]
    for label, value in meta:
        if value:
            p = doc.add_paragraph()
            p.add_run(f"{label}: ").bold = True
            p.add_run(value)

    doc.add_heading(w["summary"], level=1)
    if view.notes:
        p = doc.add_paragraph()
        p.add_run(f"{w['notes']}:").bold = True
        for note in view.notes:
            doc.add_paragraph(note, style="List Bullet")
    add_table(doc, [w["key_figures"], ""], [[label, value] for label, value in view.key_figures])
    rows = [
        [label, {"parts": [(w[f"rag_{rag}"], False)], "shade": SHADE[rag]}, count]
        for _, label, rag, count in view.states
    ]
    rows.append([[(w["total"], True)], "", view.rollup.totals.total])
    add_table(doc, [w["status"], w["colour_counts"], w["count"]], rows)
    doc.add_paragraph(w["legend"])
    doc.add_heading(w["changes_and_risks"], level=2)
    for key, rows_, show in (
        ("worsened", view.worsened, "change"),
        ("overdue", view.overdue, ""),
        ("risks", view.risks, "risk"),
        ("improved", view.improved, "change"),
    ):
        total = len(getattr(view.rollup, key))
        doc.add_heading(f"{w[key]} ({total})", level=3)
        _list(doc, rows_, view.more[key], view, show)

    doc.add_heading(w["responsibility"], level=1)
    doc.add_paragraph(w["responsibility_intro"])
    doc.add_heading(w["by_goal"], level=2)
    _counts(doc, view, view.by_goal, w["goal"], False)
    doc.add_heading(w["by_ministry"], level=2)
    _counts(doc, view, view.by_ministry, w["ministry"], True)
    doc.add_heading(w["by_agency"], level=2)
    _counts(doc, view, view.by_agency, w["agency"], True)
    for heading, rows_ in view.goal_sections:
        doc.add_heading(heading, level=3)
        add_table(
            doc,
            [w["measure"], w["title_col"], w["lead"], w["shared"]],
            [[r.label, r.title, r.lead_name, r.shared or "–"] for r in rows_],
            [1400, 8000, 3200, 2400],
        )

    doc.add_heading(w["timeline"], level=1)
    doc.add_paragraph(
        w["timeline_intro"] + (" " + view.timeline_note if view.timeline_note else "")
    )
    add_table(
        doc,
        [w["item"], f"{w['planned']} / {w['deadline']}", w["status"]],
        [[_item(r), r.planned or r.deadline or w["no_dates"], _status(r)] for r in view.rows],
        [7000, 4500, 3500],
    )

    doc.add_heading(w["per_goal"], level=1)
    if not view.goal_sections:
        doc.add_paragraph(w["note_no_measures"])
    for heading, rows_ in view.goal_sections:
        doc.add_heading(heading, level=2)
        add_table(
            doc,
            [w["measure"], w["status"], w["done"], w["next_steps"], w["comments"]],
            [
                [
                    [*_item(r), (f"{r.lead}{' + ' + r.shared if r.shared else ''}", False)],
                    _status(r),
                    r.done,
                    r.next_steps,
                    r.comments + (f"\n{w['shortened']}" if r.shortened else ""),
                ]
                for r in rows_
            ],
            [3200, 2400, 3200, 3200, 3000],
        )

    doc.add_heading(w["assignments"], level=1)
    if view.assignments:
        add_table(
            doc,
            [w["assignment"], w["letter"], w["deadline"], w["status"], w["days_late"]],
            [
                [_item(r), r.letter, r.deadline, _status(r), r.days_late or w["not_late"]]
                for r in view.assignments
            ],
            [5000, 3000, 2200, 3000, 1800],
        )
    else:
        doc.add_paragraph(w["nothing"])

    doc.add_heading(w["missing"], level=1)
    doc.add_paragraph(w["missing_intro"] if view.rollup.round else w["missing_intro_as_of"])
    if view.missing:
        add_table(
            doc,
            [w["item"], w["status"], w["asked"], w["reminded"]],
            [
                [_item(m.row), _status(m.row), m.asked, "\n".join(m.reminders) or w["not_reminded"]]
                for m in view.missing
            ],
            [5000, 2800, 2800, 4400],
        )
    else:
        doc.add_paragraph(w["no_missing"])

    doc.add_heading(w["priority_list"], level=1)
    doc.add_paragraph(w["priority_intro"])
    if view.priority:
        add_table(
            doc,
            ["#", w["item"], w["priority"], w["deadline"], w["status"]],
            [
                [n, _item(r), r.priority or "–", r.deadline, _status(r)]
                for n, r in enumerate(view.priority, start=1)
            ],
            [700, 7000, 1300, 2500, 3500],
        )
        if view.more["priority"]:
            doc.add_paragraph(w["more"].format(n=view.more["priority"]))
    else:
        doc.add_paragraph(w["nothing"])
    doc.add_paragraph(w["footer"])
    return doc


def write_docx(view, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    build_docx(view).save(str(tmp))
    tmp.replace(path)
