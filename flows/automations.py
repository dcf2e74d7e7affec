"""The automation the Prefect server runs for followup: a flow run whose process died (the
machine restarted, the process was killed) shows as Crashed once its heartbeats stop,
instead of Running for ever in the UI.

A flow run sends a heartbeat every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (180 by
default) while it runs. A run that has sent one and then, for three heartbeats' time, sends
neither another nor a final state is marked Crashed by the server. A round's run that is
suspended while it waits for replies has said so (Suspended), so it is left alone; when it
is resumed, its heartbeats start again. Nothing is lost when a reminder run crashes: what it
claimed and did not send is sent by the next run."""

from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.settings import get_current_settings

UNRESPONSIVE_RUNS = "followup: a run that stopped sending heartbeats has crashed"
NO_HEARTBEATS = (
    "flow runs send no heartbeats (PREFECT_FLOWS_HEARTBEAT_FREQUENCY is off): a run whose "
    "process dies stays Running"
)
# The events that say a run is alive or has ended or is waiting without a process.
ALIVE_OR_DONE = {
    "prefect.flow-run.heartbeat",
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Crashed",
    "prefect.flow-run.Paused",
    "prefect.flow-run.Suspended",
}


def unresponsive_after() -> timedelta | None:
    """Three heartbeats' time, or None when flow runs send no heartbeats."""
    seconds = get_current_settings().flows.heartbeat_frequency
    return None if seconds is None else timedelta(seconds=3 * seconds)


def in_minutes(within: timedelta) -> int:
    """The window as people are told it: whole minutes, at least one."""
    return max(1, round(within.total_seconds() / 60))


def unresponsive_runs(within: timedelta) -> AutomationCore:
    minutes = in_minutes(within)
    return AutomationCore(
        name=UNRESPONSIVE_RUNS,
        description=(
            "Marks a flow run Crashed when it has sent no heartbeat and no final state for "
            f"{minutes} minute(s): its process stopped. Made by `followup automations`."
        ),
        enabled=True,
        trigger=EventTrigger(
            posture=Posture.Proactive,
            after={"prefect.flow-run.heartbeat"},
            expect=ALIVE_OR_DONE,
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            threshold=1,
            within=within,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=(
                    f"No heartbeat for {minutes} minute(s): the run's process stopped "
                    "(the machine restarted or the process was killed)."
                ),
            )
        ],
    )


def apply_automations(within: timedelta | None = None) -> str | None:
    """Create followup's automation on the Prefect server in use, or bring the one made
    before up to date (found by its name: applying twice makes one). Returns what was
    done, or None when flow runs send no heartbeats (there is nothing to watch)."""
    within = within or unresponsive_after()
    if within is None:
        return None
    automation = unresponsive_runs(within)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(UNRESPONSIVE_RUNS)
        if existing:
            client.update_automation(existing[0].id, automation)
            return f"updated automation '{UNRESPONSIVE_RUNS}' ({within})"
        client.create_automation(automation)
    return f"created automation '{UNRESPONSIVE_RUNS}' ({within})"
