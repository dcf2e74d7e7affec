"""Sending queued messages from a flow: one task per batch, batches in parallel."""

from prefect import task

from models.settings import get_settings
from notifications import dispatch
from notifications.delivery import Outcome, deliver

BATCH = 250


def load_secret(name: str) -> str:
    """An Apprise URL kept in a Prefect Secret block."""
    from prefect.blocks.system import Secret

    return Secret.load(name).get()


@task(name="deliver-messages")
def deliver_messages(delivery_ids: list[int]) -> list[Outcome]:
    return deliver(delivery_ids, get_settings(), load_secret=load_secret)


def deliver_queued() -> list[Outcome]:
    """Send everything queued: one task per batch (a task run costs ~20 ms, so not one per
    message), batches in parallel on the flow's thread pool."""
    ids = dispatch.pending_deliveries()
    batches = [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
    futures = deliver_messages.map(batches) if batches else []
    return [outcome for future in futures for outcome in future.result()]
