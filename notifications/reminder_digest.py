"""The reminder digest: one message per person per run, listing all of their items that
are due for a reminder, overdue first, then by deadline."""

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from models.calendar import day_off_name, effective_deadline
from models.items import Item, ItemKind
from models.messages import DigestKind, RecipientRole
from models.plan import Contact
from models.reminders import Claim, DueReminder, NewDigest, PlanContext, queue_digests
from models.rounds import Chase, chase_stage, round_token
from models.status import status_label
from models.tokens import reply_url
from notifications.render import Rendered, date_full, date_long, render
from notifications.strings import STRINGS

# A digest lists at most this many items per section and says how many more there are:
# a message of thousands of lines is read by nobody.
SECTION_LIMIT = 50


@dataclass
class Line:
    """One item as a reader sees it in a digest."""

    label: str
    title: str
    letter: str | None
    deadline: date
    deadline_text: str
    timing: str
    day_off_note: str | None
    status: str
    owner: str | None
    overdue: bool
    days: int  # days left (negative: late), counted to the effective deadline


@dataclass
class Section:
    lines: list[Line]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.lines)

    @classmethod
    def of(cls, lines: list[Line]) -> "Section":
        return cls(lines[:SECTION_LIMIT], len(lines))


def item_label(item: Item, language: str) -> str:
    t = STRINGS[language]
    if item.ref.kind == ItemKind.MEASURE:
        return t["measure"].format(number=item.number)
    return f"{t['assignment']} {item.key}"


def timing(days: int, language: str) -> str:
    t = STRINGS[language]
    if days >= 0:
        return (
            t["days_left_0"]
            if days == 0
            else (t["days_left_1"] if days == 1 else t["days_left_n"].format(n=days))
        )
    return t["days_late_1"] if days == -1 else t["days_late_n"].format(n=-days)


def line_for(ctx: PlanContext, item: Item, as_of: date, language: str) -> Line:
    deadline = item.deadline
    effective = effective_deadline(deadline)
    note = None
    if (name := day_off_name(deadline, language)) is not None:
        note = STRINGS[language]["day_off"].format(
            date=date_long(deadline, language), name=name, next=date_full(effective, language)
        )
    report = ctx.status_of(item)
    owner = ctx.contacts.get(item.owner_id)
    days = (effective - as_of).days
    return Line(
        label=item_label(item, language),
        title=item.title,
        letter=item.letter,
        deadline=deadline,
        deadline_text=date_full(deadline, language),
        timing=timing(days, language),
        day_off_note=note,
        status=status_label(report.status if report else None, language),
        owner=owner.name if owner else None,
        overdue=days < 0,
        days=days,
    )


def subject_for(own: list[Line], escalated: list[Line], plan_title: str, language: str) -> str:
    t = STRINGS[language]
    if not own:
        return t["subject_escalation"].format(n=len(escalated), plan=plan_title)
    late = sum(1 for line in own if line.overdue)
    first = min(own, key=lambda line: line.deadline)
    if len(own) == 1:
        key = "subject_one_overdue" if late else "subject_one"
        return t[key].format(label=first.label, date=first.deadline_text)
    if late:
        return t["subject_many_overdue"].format(n=len(own), late=late)
    return t["subject_many"].format(n=len(own), date=first.deadline_text)


@dataclass
class Request:
    """A round's status request still unanswered, as the digest shows it."""

    line: str
    link: str


def requests_for(chases: Sequence[Chase], language: str) -> list[Request]:
    t = STRINGS[language]
    return [
        Request(
            t["request_line"].format(
                label=c.label,
                missing=c.missing,
                expected=c.expected,
                date=date_full(c.deadline, language),
            ),
            reply_url(c.round_id, c.contact_id),
        )
        for c in chases
    ]


def render_reminder_digest(
    ctx: PlanContext,
    contact: Contact,
    due: list[DueReminder],
    as_of: date,
    chases: Sequence[Chase] = (),
) -> Rendered:
    """One person's digest: their deadlines due for a reminder and, when a round is waiting
    for their reply, the request with their link."""
    language = contact.language.value
    sections: dict[RecipientRole, list[Line]] = defaultdict(list)
    for d in due:
        sections[d.role].append(line_for(ctx, d.item, as_of, language))
    for lines in sections.values():
        lines.sort(key=lambda line: (not line.overdue, line.deadline, line.label))
    own = sections[RecipientRole.OWNER]
    coordinator = ctx.contacts.get(ctx.coordinator_id)
    plan = ctx.plan
    requests = requests_for(chases, language)
    if due:
        subject = subject_for(
            own,
            sections[RecipientRole.ESCALATION] + sections[RecipientRole.UNOWNED],
            plan.title,
            language,
        )
    else:
        first = chases[0]
        subject = STRINGS[language]["subject_request"].format(
            label=first.label, date=date_full(first.deadline, language)
        )
    return render(
        "reminder_digest",
        language,
        subject=subject,
        requests=requests,
        recipient=contact.name,
        plan=plan,
        overdue=Section.of([line for line in own if line.overdue]),
        upcoming=Section.of([line for line in own if not line.overdue]),
        escalated=Section.of(sections[RecipientRole.ESCALATION]),
        unowned=Section.of(sections[RecipientRole.UNOWNED]),
        coordinator=coordinator.name if coordinator else STRINGS[language]["nobody"],
        as_of=date_full(as_of, language),
    )


@dataclass(frozen=True)
class DueClaims:
    """A digest's claims on its due reminders and round chasers, made as they are read:
    a large run claims a hundred thousand, and holding them all as objects until they are
    stored slows every garbage collection of the run."""

    entries: list[DueReminder]
    chases: list[Chase]
    as_of: date

    def __iter__(self) -> Iterator[Claim]:
        for d in self.entries:
            yield Claim(d.item.ref.token, d.stage.name, d.role, d.stage.due_on)
        stage = chase_stage(self.as_of)
        for c in self.chases:
            yield Claim(round_token(c.round_id), stage, RecipientRole.OWNER, self.as_of)


def per_recipient(
    due: list[DueReminder], chases: Sequence[Chase]
) -> list[tuple[int, list[DueReminder], list[Chase]]]:
    """(contact, their due reminders, their round chasers) for everyone who gets a digest."""
    by_contact: dict[int, list[DueReminder]] = defaultdict(list)
    chased: dict[int, list[Chase]] = defaultdict(list)
    for d in due:
        by_contact[d.contact_id].append(d)
    for c in chases:
        chased[c.contact_id].append(c)
    return [
        (contact_id, by_contact.get(contact_id, []), chased.get(contact_id, []))
        for contact_id in dict.fromkeys([*by_contact, *chased])
    ]


def compose_reminder_digests(
    session: Session,
    ctx: PlanContext,
    as_of: date,
    due: list[DueReminder],
    chases: Sequence[Chase] = (),
) -> int:
    """Render one digest per recipient of these (unclaimed) reminders and round chasers and
    queue it with its claims; returns the number of digests. Each digest is rendered as it
    is queued, while the database stores the claims of the one before."""
    recipients = per_recipient(due, chases)

    def digest(contact_id: int, entries: list[DueReminder], requests: list[Chase]) -> NewDigest:
        contact = ctx.contacts[contact_id]
        rendered = render_reminder_digest(ctx, contact, entries, as_of, requests)
        claims = DueClaims(entries, requests, as_of)
        return rendered.as_digest(contact, DigestKind.REMINDER, claims=claims)

    return queue_digests(session, ctx.plan.id, as_of, RenderedOnRead(recipients, digest))


@dataclass(frozen=True)
class RenderedOnRead:
    """Digests rendered one at a time as they are read; how many is known before."""

    recipients: list[tuple]
    render: Callable[..., NewDigest]

    def __len__(self) -> int:
        return len(self.recipients)

    def __iter__(self) -> Iterator[NewDigest]:
        return (self.render(*recipient) for recipient in self.recipients)
