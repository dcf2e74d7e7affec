"""The ministry's follow-up summary as documents: HTML, Markdown, Word, CSV and JSON.

``summary_view`` turns the roll-up (models.rollup, where every number is computed) into the
words a reader sees in one language; each format renders that one view, so a count or a
status reads the same in all of them. ``write_summary`` writes every format to a folder.
Text people typed is escaped for each format (HTML by Jinja's autoescape, Markdown by
``md``, Word and CSV by their writers) and very long texts are shortened in the documents
(never in the CSV/JSON)."""

import re
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from models.items import ItemKind
from models.rollup import NO_REPLY, RAGS, STATES, UNKNOWN, Group, ItemStatus, Rollup
from models.settings import get_settings
from models.status import status_label
from models.text import CONTROL, plain_text
from notifications.render import LOCALES, date_long, environment
from notifications.summary_strings import WORDS

TEXT_LIMIT = 1000  # characters of one comment shown in the documents
SHORT_LIMIT = 300  # characters of a risk note in the summary page's lists
LIST_LIMIT = 10  # items per list on the summary page
PRIORITY_LIMIT = 25
LANGUAGES = tuple(WORDS)


@dataclass
class RowView:
    """One measure or assignment, in the reader's words."""

    token: str
    kind: str
    label: str
    title: str
    goal: str
    lead: str
    lead_name: str
    shared: str
    state: str
    status: str
    rag: str
    rag_text: str
    late: str  # "3 dager over fristen" or ""
    days_late: int | None
    progress: str
    done: str
    next_steps: str
    comments: str
    comment_short: str  # for lists on the summary page
    shortened: bool
    deadline: str
    planned: str
    reported: str
    change: str  # "var i rute" when it changed, else ""
    priority: str
    letter: str
    asked: str


@dataclass
class GroupView:
    name: str
    lead: int
    shared: int
    total: int
    by_state: list[int]
    by_rag: list[int]
    no_reply: int
    overdue: int


@dataclass
class MissingView:
    row: RowView
    asked: str
    reminders: list[str]


@dataclass
class SummaryView:
    language: str
    w: dict[str, str]
    rollup: Rollup
    title: str
    plan_title: str
    plan_reference: str
    round_label: str
    as_of: str
    reply_deadline: str
    previous_round: str
    produced: str
    reply_rate: str
    states: list[tuple[str, str, str, int]]  # (state, label, rag, count)
    rags: list[tuple[str, str, int]]  # (rag, label, count)
    rows: list[RowView]
    goal_sections: list[tuple[str, list[RowView]]]
    assignments: list[RowView]
    by_goal: list[GroupView]
    by_ministry: list[GroupView]
    by_agency: list[GroupView]
    worsened: list[RowView]
    improved: list[RowView]
    risks: list[RowView]
    overdue: list[RowView]
    priority: list[RowView]
    missing: list[MissingView]
    notes: list[str]
    chart_svg: str = ""
    timeline_svg: str = ""
    timeline_note: str = ""
    more: dict[str, int] = field(default_factory=dict)

    @property
    def key_figures(self) -> list[tuple[str, str]]:
        r, w = self.rollup, self.w
        return [
            (w["reply_rate"], self.reply_rate),
            (w["items_total"], str(r.totals.total)),
            (w["measures_total"], str(len(r.measures))),
            (w["assignments_total"], str(len(r.assignments))),
            (w["overdue_total"], str(r.totals.overdue)),
            (w["worsened_total"], str(len(r.worsened))),
            (w["improved_total"], str(len(r.improved))),
            (w["missing_total"], str(len(r.missing))),
        ]


# ---------------------------------------------------------------------------- words


def state_text(state: str, status: str | None, language: str) -> str:
    w = WORDS[language]
    if state == NO_REPLY:
        return w["state_no_reply"]
    if state == UNKNOWN:
        return w["unknown_value"].format(value=status)
    return status_label(state, language)


def state_name(state: str, language: str) -> str:
    """A state as a column or count label ("unknown status", not its stored value)."""
    if state == UNKNOWN:
        return WORDS[language]["state_unknown"]
    return state_text(state, None, language)


def late_text(days: int | None, language: str) -> str:
    w = WORDS[language]
    if not days or days <= 0:
        return ""
    return w["days_late_1"] if days == 1 else w["days_late_n"].format(n=days)


def item_label(s: ItemStatus, language: str) -> str:
    w = WORDS[language]
    if s.kind == ItemKind.MEASURE:
        return w["measure_n"].format(n=s.item.number)
    return f"{w['assignment']} {s.item.label}"


def clean(text: str | None) -> str:
    """Text as typed, minus control characters no document format can hold."""
    return plain_text(text)


def shorten(text: str | None, limit: int = TEXT_LIMIT) -> tuple[str, bool]:
    text = clean(text)
    if len(text) <= limit:
        return text, False
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[limit - 80 : limit] else text[:limit]
    return cut.rstrip() + " …", True


def _date(day: date | None, language: str) -> str:
    return date_long(day, language) if day else ""


def row_view(s: ItemStatus, rollup: Rollup, language: str) -> RowView:
    w = WORDS[language]
    reply = s.reply
    done, cut1 = shorten(reply.done if reply else None)
    steps, cut2 = shorten(reply.next_steps if reply else None)
    comment, cut3 = shorten(reply.risk_note if reply else None)
    if reply and reply.expected_completion:
        expected = f"{w['expected']}: {_date(reply.expected_completion, language)}"
        comment = f"{comment}\n{expected}" if comment else expected
    reported = ""
    if reply is not None:
        when = reply.submitted_at.astimezone(ZoneInfo(get_settings().timezone)).date()
        reported = w["reported_by"].format(who=reply.contact or "?", when=_date(when, language))
        if rollup.round is not None and not s.replied_in_round:
            reported += f" ({w['from_earlier_round']})"
    if s.kind == ItemKind.MEASURE:
        planned = " – ".join(_date(d, language) for d in (s.planned_start, s.deadline) if d)
    else:
        planned = ""
    goal = ""
    if s.kind == ItemKind.MEASURE:
        goal = str(s.goal_number) if s.goal_number is not None else w["no_goal"]
    change = ""
    if s.change:
        change = f"{w['was']} {state_text(_state(s.previous_status), s.previous_status, language)}"
    return RowView(
        token=s.token,
        kind=s.kind.value,
        label=item_label(s, language),
        title=clean(s.item.title),
        goal=goal,
        lead=s.lead.key if s.lead else w["no_responsible_org"],
        lead_name=s.lead.name if s.lead else w["no_responsible_org"],
        shared=", ".join(o.key for o in s.shared),
        state=s.state,
        status=state_text(s.state, s.status, language),
        rag=s.rag,
        rag_text=w[f"rag_{s.rag}"],
        late=late_text(s.days_late, language),
        days_late=s.days_late,
        progress=f"{reply.progress} %" if reply and reply.progress is not None else "",
        done=done,
        next_steps=steps,
        comments=comment,
        comment_short=shorten(reply.risk_note if reply else None, SHORT_LIMIT)[0],
        shortened=cut1 or cut2 or cut3,
        deadline=_date(s.deadline, language),
        planned=planned,
        reported=reported,
        change=change,
        priority=str(s.item.priority) if s.item.priority is not None else "",
        letter=clean(s.item.letter),
        asked=s.asked_contact or "",
    )


def _state(status: str | None) -> str:
    from models.rollup import state_of

    return state_of(status)


def group_view(g: Group, language: str, kind: str) -> GroupView:
    w = WORDS[language]
    if g.key is None:
        name = w["no_goal"] if kind == "goal" else w["no_responsible_org"]
    elif kind == "goal" and g.key == "assignments":
        name = w["assignments_group"]
    elif kind == "goal":
        name = f"{g.key}. {clean(g.name)}"
    else:
        name = f"{g.key} ({clean(g.name)})" if g.name and g.name != g.key else g.key
    return GroupView(
        name=name,
        lead=g.lead,
        shared=g.shared,
        total=g.counts.total,
        by_state=[g.counts.by_state[s] for s in STATES],
        by_rag=[g.counts.by_rag[r] for r in RAGS],
        no_reply=g.counts.by_state[NO_REPLY],
        overdue=g.counts.overdue,
    )


def summary_view(
    rollup: Rollup, language: str = "nb", produced: datetime | None = None
) -> SummaryView:
    """The roll-up in one language's words: what every format renders."""
    from notifications.summary_svg import status_chart, timeline

    if language not in WORDS:
        raise ValueError(f"language {language!r}: choose one of {', '.join(WORDS)}")
    w = WORDS[language]
    views = {s.token: row_view(s, rollup, language) for s in rollup.items}

    def rows(items: list[ItemStatus], limit: int | None = None) -> list[RowView]:
        return [views[s.token] for s in (items[:limit] if limit else items)]

    sections: dict[str, list[RowView]] = {}
    for s in rollup.measures:
        if s.goal_number is not None:
            title = clean(rollup.goals.get(s.goal_number, ""))
            heading = f"{w['goal_n'].format(n=s.goal_number)}: {title}"
        else:
            heading = w["no_goal"]
        sections.setdefault(heading, []).append(views[s.token])
    rate = rollup.reply_rate
    reply_rate = (
        w["reply_rate_none"]
        if rate is None
        else w["reply_rate_value"].format(
            pct=_number(round(rate * 100, 1), language), replied=rollup.replied, asked=rollup.asked
        )
    )
    rnd = rollup.round
    produced = produced or datetime.now(ZoneInfo(get_settings().timezone))
    view = SummaryView(
        language=language,
        w=w,
        rollup=rollup,
        title=w["document_title"].format(plan=clean(rollup.plan_title)),
        plan_title=clean(rollup.plan_title),
        plan_reference=clean(rollup.plan_reference),
        round_label=clean(rnd.label) if rnd else w["no_round"],
        as_of=date_long(rollup.as_of, language),
        reply_deadline=date_long(rnd.deadline, language) if rnd else "",
        previous_round=clean(rollup.previous_round.label) if rollup.previous_round else w["none"],
        produced=date_long(produced.date(), language),
        reply_rate=reply_rate,
        states=[
            (s, state_name(s, language), _rag_of_state(s), rollup.totals.by_state[s])
            for s in STATES
        ],
        rags=[(r, w[f"rag_{r}"], rollup.totals.by_rag[r]) for r in RAGS],
        rows=list(views.values()),
        goal_sections=list(sections.items()),
        assignments=rows(rollup.assignments),
        by_goal=[group_view(g, language, "goal") for g in rollup.by_goal],
        by_ministry=[group_view(g, language, "ministry") for g in rollup.by_ministry],
        by_agency=[group_view(g, language, "agency") for g in rollup.by_agency],
        worsened=rows(rollup.worsened, LIST_LIMIT),
        improved=rows(rollup.improved, LIST_LIMIT),
        risks=rows(rollup.risks, LIST_LIMIT),
        overdue=rows(rollup.overdue, LIST_LIMIT),
        priority=rows(rollup.priority, PRIORITY_LIMIT),
        missing=[
            MissingView(
                views[m.item.token],
                m.asked or w["none"],
                [
                    f"{_date(e.on, language)}: {reminder_words(e.what, w)} → {clean(e.to)} "
                    f"({w.get('outcome_' + e.outcome, e.outcome)})"
                    for e in m.reminders
                ],
            )
            for m in rollup.missing
        ],
        notes=[w[f"note_{n}"] for n in rollup.notes],
        more={
            "worsened": max(0, len(rollup.worsened) - LIST_LIMIT),
            "improved": max(0, len(rollup.improved) - LIST_LIMIT),
            "risks": max(0, len(rollup.risks) - LIST_LIMIT),
            "overdue": max(0, len(rollup.overdue) - LIST_LIMIT),
            "priority": max(0, len(rollup.priority) - PRIORITY_LIMIT),
        },
    )
    view = _scrub(view)
    view.chart_svg = status_chart(view)
    view.timeline_svg, view.timeline_note = timeline(view)
    return view


def _scrub(value):
    """``value`` with every text in it rid of characters no document holds (Word refuses
    them outright): names and titles come from plan files and replies as they were typed."""
    if isinstance(value, str):
        return type(value)(CONTROL.sub("", value)) if CONTROL.search(value) else value
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrub(v) for v in value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if is_dataclass(value) and type(value).__module__ == __name__:  # the views of this module
        for f in fields(value):
            setattr(value, f.name, _scrub(getattr(value, f.name)))
    return value


def _rag_of_state(state: str) -> str:
    from models.rollup import rag_of

    return rag_of(state, False)


def _number(value: float, language: str) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=LOCALES[language])


# ---------------------------------------------------------------------------- HTML, Markdown


def reminder_words(what: str, w: dict[str, str]) -> str:
    """A reminder stage or round message as a reader says it ("T-7": 7 days before)."""
    if what.startswith("T-") and what[2:].isdigit():
        return w["reminder_before"].format(n=what[2:])
    if what.startswith("overdue-") and what[8:].isdigit():
        return w["reminder_overdue"].format(n=what[8:])
    named = {"due": "reminder_due", "round_invitation": "reminder_invitation"}
    if what in named:
        return w[named[what]]
    return w["reminder_round"] if what == "round_reminder" else what


def render_html(view: SummaryView) -> str:
    return environment().get_template("summary.html.j2").render(v=view, w=view.w)


def render_markdown(view: SummaryView, full: bool = True) -> str:
    """The summary in Markdown; ``full=False`` keeps the summary page only (for artifacts)."""
    return environment().get_template("summary.md.j2").render(v=view, w=view.w, full=full)


# ---------------------------------------------------------------------------- files


@dataclass
class SummaryFiles:
    folder: Path
    html: Path
    markdown: Path
    docx: Path
    csv: Path
    json: Path

    @property
    def all(self) -> list[Path]:
        return [self.html, self.markdown, self.docx, self.csv, self.json]


def slug(text: str) -> str:
    """Lowercase letters, digits and dashes: for folder names and artifact keys."""
    table = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "ae", "Ø": "o", "Å": "a"})
    value = re.sub(r"[^a-z0-9]+", "-", text.translate(table).lower())
    return value.strip("-")[:60] or "x"


def report_folder(rollup: Rollup, base: Path | None = None) -> Path:
    """reports/<plan>/<round id>-<round label>, or reports/<plan>/as-of-<date>."""
    base = base or get_settings().data_dir / "reports"
    if rollup.round is not None:
        name = f"round-{rollup.round.id}-{slug(rollup.round.label)}"
    else:
        name = f"as-of-{rollup.as_of.isoformat()}"
    return base / slug(rollup.plan_key) / name


def write_summary(rollup: Rollup, language: str = "nb", folder: Path | None = None) -> SummaryFiles:
    """Write the summary in every format to its reports folder; returns the paths."""
    from notifications.summary_data import write_csv, write_json
    from notifications.summary_docx import write_docx

    folder = folder or report_folder(rollup)
    folder.mkdir(parents=True, exist_ok=True)
    view = summary_view(rollup, language)
    stem = f"summary-{language}"
    files = SummaryFiles(
        folder=folder,
        html=folder / f"{stem}.html",
        markdown=folder / f"{stem}.md",
        docx=folder / f"{stem}.docx",
        csv=folder / "items.csv",
        json=folder / "items.json",
    )
    _write_text(files.html, render_html(view))
    _write_text(files.markdown, render_markdown(view))
    write_docx(view, files.docx)
    write_csv(view, files.csv)
    write_json(view, files.json)
    return files


def _write_text(path: Path, text: str) -> None:
    """Write whole or not at all: a reader never opens half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
