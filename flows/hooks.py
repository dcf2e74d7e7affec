"""Flow hooks: when a flow's run fails, its plan's coordinator is told, with a link to the
run in the Prefect UI; not when a person started it at a terminal and it failed on their
input (the command has told them)."""

from typing import Any

from prefect.logging import get_logger

logger = get_logger("followup.hooks")


def run_link(flow_run_id: Any) -> str:
    """``{PREFECT_UI_URL}/runs/flow-run/{id}``; the UI URL follows PREFECT_API_URL."""
    from prefect.settings import PREFECT_UI_URL

    base = (PREFECT_UI_URL.value() or "http://127.0.0.1:4200").rstrip("/")
    return f"{base}/runs/flow-run/{flow_run_id}"


def _input_error(state: Any) -> bool:
    """Whether the run failed on what it was asked (a plan file, a round, a date), not on
    the system: a coordinator need not be told by mail what their terminal just showed."""
    from models.planfile import PlanFileError
    from models.queries import NotFound
    from models.rounds import RoundError

    try:
        exc = state.result(raise_on_failure=False)
    except Exception:
        return False
    return isinstance(exc, PlanFileError | NotFound | RoundError)


def notify_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` hook: send the coordinator a short notice naming the run and linking
    to it. Never raises: a hook's error must not hide the run's own failure.

    A subflow's failure fails the run that called it too: that outermost run tells."""
    if getattr(flow_run, "parent_task_run_id", None):
        return
    if getattr(flow_run, "deployment_id", None) is None and _input_error(state):
        return  # started at a terminal (the CLI), which showed the person what to fix
    from flows.deliveries import load_secret
    from notifications.run_failure import RunFailure, notify_run_failure

    params = flow_run.parameters or {}
    plan = params.get("plan") or params.get("plan_key")
    failure = RunFailure(
        flow=flow.name,
        run_name=flow_run.name,
        run_id=str(flow_run.id),
        link=run_link(flow_run.id),
        message=(state.message or state.name or "failed")[:500],
        plan=plan if isinstance(plan, str) else None,
    )
    try:
        reached = notify_run_failure(failure, load_secret=load_secret)
        logger.info("told the coordinator about failed run %s via %s", flow_run.name, reached)
    except Exception as exc:
        logger.error("could not tell the coordinator about failed run %s: %s", flow_run.name, exc)
