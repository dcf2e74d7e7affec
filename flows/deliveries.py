"""Sending queued messages from a flow: one task per batch, batches in parallel."""

from collections.abc import Collection

from prefect import task
from prefect.cache_policies import NO_CACHE

from models.settings import get_settings
from notifications import dispatch
from notifications.delivery import Outcome, deliver

BATCH = 250


def load_secret(name: str) -> str:
    """An Apprise URL kept in a Prefect Secret block."""
    from prefect.blocks.system import Secret

    return Secret.load(name).get()


@task(name="deliver-messages", cache_policy=NO_CACHE)  # a send is never skipped as done
def deliver_messages(delivery_ids: list[int]) -> list[Outcome]:
    return deliver(delivery_ids, get_settings(), load_secret=load_secret)


def deliver_queued(tried: Collection[int] = ()) -> list[Outcome]:
    """Send everything queued but the deliveries ``tried`` already in this run (each is
    tried once per run): one task per batch (a task run costs ~20 ms, so not one per
    message), batches in parallel on the flow's thread pool."""
    tried = set(tried)
    ids = [i for i in dispatch.pending_deliveries() if i not in tried]
    batches = [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
    futures = deliver_messages.map(batches) if batches else []
    return [outcome for future in futures for outcome in future.result()]
