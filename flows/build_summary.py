"""build-summary: the ministry's follow-up summary for a plan at a round (or a date).

The story of a run:
1. build: compute the roll-up once (models.rollup: every number, in one place) and write the
   summary as HTML, Markdown, Word, CSV and JSON to
   ``$FOLLOWUP_DATA_DIR/reports/<plan>/<round>/``, in the asked language and in each
   recipient's language;
2. publish: a Markdown artifact (the summary page) and a table artifact (the items) under
   stable keys per plan, so the Prefect UI shows the summary's history round by round;
3. send: queue one message per summary recipient of the plan, in their language, with the
   HTML and Word files attached, and deliver it through Apprise. A summary goes to each
   recipient once: running again for the same round rewrites the files and sends nothing.
Closing a round runs this flow; ``followup summary`` runs it from the shell."""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.hooks import notify_failure
from models.settings import get_settings
from notifications.delivery import Outcome, deliver
from notifications.summary_mail import Built, SendReport, build, queue_summary


@dataclass
class SummaryResult:
    built: Built
    sent: SendReport = field(default_factory=SendReport)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.built.main.folder

    @property
    def files(self) -> list[Path]:
        return [p for f in self.built.files.values() for p in f.all]

    def summary(self) -> str:
        line = self.built.headline
        if self.sent.queued or self.outcomes:
            delivered = sum(1 for o in self.outcomes if o.state.value == "sent")
            line += f"; sent to {delivered} of {len(self.outcomes)} channel(s)"
        if self.sent.already_sent:
            line += f"; already sent before to {', '.join(self.sent.already_sent)}"
        return line


@task(name="write-summary", cache_policy=NO_CACHE)
def write_files(plan: str | None, round_id: int | None, as_of: date | None, language: str) -> Built:
    return build(plan, round_id, as_of, language)


@task(name="publish-summary", cache_policy=NO_CACHE)
def publish(built: Built) -> None:
    files = ", ".join(str(p) for p in built.main.all)
    create_markdown_artifact(
        key=built.artifact_key,
        markdown=built.markdown + f"\n\nFiles: `{built.main.folder}`\n",
        description=f"{built.label}: {built.headline}",
    )
    more = built.table_total - len(built.table)
    create_table_artifact(
        key=built.table_key,
        table=built.table or [{"item": "", "status": built.headline}],
        description=f"{built.label}: {built.table_total} items"
        + (f" ({more} more in {built.main.csv})" if more > 0 else "")
        + f". Files: {files}",
    )


@task(name="send-summary", cache_policy=NO_CACHE)
def send_summary(built: Built) -> tuple[SendReport, list[Outcome]]:
    from flows.deliveries import load_secret

    report = queue_summary(built)
    outcomes = deliver(report.delivery_ids, get_settings(), load_secret=load_secret)
    return report, outcomes


def _run_name() -> str:
    params = flow_run.parameters
    what = f"round {params['round']}" if params.get("round") else params.get("as_of") or "today"
    return f"build-summary {params.get('plan') or ''} {what}".replace("  ", " ")


@flow(name="build-summary", flow_run_name=_run_name, on_failure=[notify_failure])
def build_summary(
    plan: str | None = None,
    round: int | None = None,  # the issue names it so; shadows the builtin here only
    as_of: date | None = None,
    send: bool = True,
    language: str = "nb",
) -> SummaryResult:
    """Write the follow-up summary of a round (or of a date), publish it, and send it to the
    plan's ministry recipients with the HTML and Word files attached.

    Args:
        plan: Planens nøkkel (tom når det er én plan). / The plan's key (empty when there
            is one plan).
        round: Rapporteringsrundens id (tom: status per datoen). / The reporting round's id
            (empty: the status as of the date).
        as_of: Datoen rapporten gjelder, når ingen runde er valgt (tom: i dag). / The date
            of the summary when no round is given (empty: today).
        send: Send rapporten til departementets mottakere. / Send the summary to the
            ministry's recipients.
        language: Språk: nb, nn eller en. / Language: nb, nn or en.
    """
    built = write_files(plan, round, as_of, language)
    publish(built)
    result = SummaryResult(built)
    if send:
        result.sent, result.outcomes = send_summary(built)
    get_run_logger().info(result.summary())
    return result


def run_demo_summary(console, as_of: date = date(2020, 6, 1), round_id: int | None = None):
    """For `make demo`: the summary of the round as of ``as_of`` (or of that date when there
    is no such round), sent to the outbox; prints where the files are."""
    from sqlmodel import select

    from models.db import session_scope
    from models.reporting import ReportingRound

    if round_id is None:
        with session_scope() as session:
            round_id = session.exec(
                select(ReportingRound.id)
                .where(ReportingRound.as_of == as_of)
                .order_by(ReportingRound.id.desc())
            ).first()
    result = build_summary(round=round_id, as_of=None if round_id else as_of)
    console.print(result.summary(), markup=False, highlight=False)
    console.print(f"The summary's files, in {result.folder}:", markup=False, highlight=False)
    for path in result.files:
        console.print(f"   {path}", markup=False, highlight=False)
    return result
