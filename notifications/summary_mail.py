"""Building the summary and sending it to the plan's ministry recipients: the steps of the
build-summary flow as plain functions.

Each recipient gets a short message in their own language with the HTML and Word files
attached (in that language too). A summary is sent once per recipient: building it again
for the same round (or date) rewrites the files but does not send it twice."""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlmodel import Session, select

from models.calendar import today
from models.db import session_scope
from models.messages import Delivery, DeliveryState, Digest, DigestKind
from models.plan import Contact, PlanRole, PlanRoleKind
from models.queries import get_plan
from models.reminders import NewDigest, lock_plan, queue_digests
from models.rollup import Rollup, compute_rollup
from notifications.render import Rendered, environment
from notifications.summary import (
    SummaryFiles,
    render_markdown,
    slug,
    summary_view,
    write_summary,
)

TABLE_ARTIFACT_LIMIT = 1000  # rows in the Prefect table artifact; the CSV has them all


@dataclass
class Built:
    """What a build produced: where the files are, and what the artifacts show."""

    plan_id: int
    plan_key: str
    round_id: int | None
    as_of: date
    label: str  # the round's label, or the as-of date
    language: str
    files: dict[str, SummaryFiles]  # per language; the first is the requested one
    markdown: str  # the summary page, for the Markdown artifact
    table: list[dict]
    table_total: int
    headline: str

    @property
    def main(self) -> SummaryFiles:
        return self.files[self.language]

    @property
    def artifact_key(self) -> str:
        return f"summary-{slug(self.plan_key)}"

    @property
    def table_key(self) -> str:
        return f"summary-table-{slug(self.plan_key)}"


@dataclass
class SendReport:
    queued: int = 0
    already_sent: list[str] = field(default_factory=list)
    delivery_ids: list[int] = field(default_factory=list)


def recipients(session: Session, plan_id: int) -> list[Contact]:
    """The plan's summary recipients, in their stored order."""
    return list(
        session.exec(
            select(Contact)
            .join(PlanRole, PlanRole.contact_id == Contact.id)
            .where(PlanRole.plan_id == plan_id, PlanRole.role == PlanRoleKind.SUMMARY_RECIPIENT)
            .order_by(PlanRole.position, Contact.id)
        ).all()
    )


def _table(rollup: Rollup, view) -> list[dict]:
    rows = {r.token: r for r in view.rows}
    return [
        {
            "item": rows[s.token].label,
            "title": s.item.title[:120],
            "status": rows[s.token].status,
            "rag": s.rag,
            "days_late": s.days_late or 0,
            "lead": s.lead.key if s.lead else "",
            "change": s.change or "",
        }
        for s in rollup.items[:TABLE_ARTIFACT_LIMIT]
    ]


def build(
    plan_key: str | None = None,
    round_id: int | None = None,
    as_of: date | None = None,
    language: str = "nb",
    reports_dir: Path | None = None,
) -> Built:
    """Compute the roll-up once and write every format, in ``language`` and in the language
    of each summary recipient. With neither round nor date: the status as of today."""
    with session_scope() as session:
        if round_id is None and as_of is None:
            as_of = today()
        rollup = compute_rollup(session, plan_key, round_id, as_of)
        plan = get_plan(session, rollup.plan_key)
        languages = [language] + [
            c.language.value for c in recipients(session, plan.id) if c.language != language
        ]
    files: dict[str, SummaryFiles] = {}
    folder = None
    if reports_dir is not None:
        from notifications.summary import report_folder

        folder = report_folder(rollup, reports_dir)
    for lang in dict.fromkeys(languages):
        files[lang] = write_summary(rollup, lang, folder)
    view = summary_view(rollup, language)
    rate = view.reply_rate
    headline = (
        f"{rollup.plan_key} {view.round_label}, {rollup.as_of}: {rollup.totals.total} items, "
        f"reply rate {rate}, {rollup.totals.overdue} overdue, {len(rollup.worsened)} worse, "
        f"{len(rollup.improved)} better, {len(rollup.missing)} missing"
    )
    return Built(
        plan_id=plan.id,
        plan_key=rollup.plan_key,
        round_id=rollup.round.id if rollup.round else None,
        as_of=rollup.as_of,
        label=rollup.round.label if rollup.round else rollup.as_of.isoformat(),
        language=language,
        files=files,
        markdown=render_markdown(view, full=False),
        table=_table(rollup, view),
        table_total=len(rollup.items),
        headline=headline,
    )


def render_mail(rollup: Rollup, language: str, coordinator: str | None) -> Rendered:
    view = summary_view(rollup, language)
    w = view.w
    subject = w["mail_subject"].format(plan=view.plan_title, round=view.round_label)
    env = environment()
    context = dict(
        v=view,
        w=w,
        language=language,
        subject=subject,
        coordinator=coordinator or rollup.plan_key,
    )
    text = env.get_template("summary_mail.txt.j2").render(context)
    html = env.get_template("summary_mail.html.j2").render(context)
    return Rendered(subject=subject, text=text, html=html)


def queue_summary(built: Built) -> SendReport:
    """Queue the summary to each recipient who has not had it (same subject, same as-of
    date), with the HTML and Word files in their language attached; one transaction."""
    report = SendReport()
    with session_scope() as session:
        lock_plan(session, built.plan_id)
        rollup = compute_rollup(session, built.plan_key, built.round_id, built.as_of)
        new: list[NewDigest] = []
        for contact in recipients(session, built.plan_id):
            language = contact.language.value
            rendered = render_mail(rollup, language, rollup.coordinator)
            sent_before = session.exec(
                select(Digest.id).where(
                    Digest.plan_id == built.plan_id,
                    Digest.kind == DigestKind.SUMMARY,
                    Digest.contact_id == contact.id,
                    Digest.as_of == built.as_of,
                    Digest.subject == rendered.subject,
                )
            ).first()
            if sent_before is not None:
                report.already_sent.append(contact.name)
                continue
            files = built.files.get(language, built.main)
            new.append(
                rendered.as_digest(
                    contact,
                    DigestKind.SUMMARY,
                    attachments=[str(files.html.resolve()), str(files.docx.resolve())],
                )
            )
        report.queued = queue_digests(session, built.plan_id, built.as_of, new)
        session.flush()
        report.delivery_ids = list(
            session.exec(
                select(Delivery.id)
                .join(Digest, Digest.id == Delivery.digest_id)
                .where(
                    Digest.plan_id == built.plan_id,
                    Digest.kind == DigestKind.SUMMARY,
                    Digest.as_of == built.as_of,
                    Delivery.state == DeliveryState.PENDING,
                )
                .order_by(Delivery.id)
            ).all()
        )
    return report
