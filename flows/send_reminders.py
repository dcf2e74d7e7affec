"""send-reminders: every working morning, tell each responsible person what is coming due
or overdue, in one message, in their language, through their channels; exactly once.

The story of a run:
1. queue: for each plan, claim the reminders due today (a claim is unique per item, stage
   and recipient) and queue one digest per person, in one transaction;
2. deliver: send every queued delivery, in batches, each leased and recorded on its own;
3. tell: queue a notice to the coordinator of deliveries given up on, and send it;
4. report: a table artifact of what was sent and what failed.
A run that dies anywhere leaves claims with queued deliveries; the next run sends them."""

from dataclasses import dataclass, field
from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from flows.deliveries import deliver_queued
from flows.hooks import notify_failure
from models.calendar import day_off_name, today
from models.messages import DeliveryState
from notifications import dispatch
from notifications.channels import shown_channel
from notifications.delivery import Outcome


@dataclass
class RunReport:
    as_of: date
    day_off: str | None = None
    claimed: int = 0
    digests: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    previews: list[dict] = field(default_factory=list)
    dry_run: bool = False

    def count(self, state: DeliveryState) -> int:
        return sum(1 for o in self.outcomes if o.state == state)

    def summary(self) -> str:
        if self.day_off:
            return f"{self.as_of}: no reminders on a day off ({self.day_off})"
        if self.dry_run:
            return f"{self.as_of}: dry run, {len(self.previews)} message(s) would go out"
        return (
            f"{self.as_of}: {self.claimed} reminder(s) in {self.digests} message(s); "
            f"{self.count(DeliveryState.SENT)} delivered, "
            f"{self.count(DeliveryState.FAILED)} failed (to be retried), "
            f"{self.count(DeliveryState.GIVEN_UP)} given up"
        )


@task(name="queue-reminders")
def queue_reminders(as_of: date) -> tuple[int, int]:
    return dispatch.queue_reminders(as_of)


@task(name="tell-coordinators")
def tell_coordinators(as_of: date) -> int:
    return dispatch.queue_failure_notices(as_of)


def publish(report: RunReport) -> None:
    rows = [
        {
            "recipient": o.recipient,
            "channel": shown_channel(o.channel),
            "subject": o.subject,
            "outcome": o.state.value,
            "error": o.error or "",
        }
        for o in report.outcomes
    ]
    create_table_artifact(
        key="reminder-log",
        table=rows or [{"outcome": report.summary()}],
        description=report.summary(),
    )


def _run_name() -> str:
    return f"send-reminders {flow_run.parameters.get('as_of') or today()}"


@flow(name="send-reminders", flow_run_name=_run_name, on_failure=[notify_failure])
def send_reminders(as_of: date | None = None, dry_run: bool = False) -> RunReport:
    """Send the deadline reminders due on a day (Norwegian working days only), exactly once.

    Args:
        as_of: Dagen fristene vurderes ut fra (tom: i dag i Oslo). / The day to judge
            deadlines by (empty: today in Oslo).
        dry_run: Bare vis hva som ville blitt sendt; send og lagre ingenting. / Only show
            what would go out; send and record nothing.
    """
    report = RunReport(as_of=as_of or today(), dry_run=dry_run)
    if (name := day_off_name(report.as_of)) is not None:
        report.day_off = name
    elif dry_run:
        report.previews = dispatch.preview_reminders(report.as_of)
    else:
        report.claimed, report.digests = queue_reminders(report.as_of)
        report.outcomes = deliver_queued()
        if tell_coordinators(report.as_of):
            report.outcomes += deliver_queued(tried={o.delivery_id for o in report.outcomes})
        publish(report)
    get_run_logger().info(report.summary())
    return report
