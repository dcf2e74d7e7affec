"""Reply runs in tests: the `collect-status-reply` deployment served by its own process (as
`followup up` serves it), and polling with a deadline."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prefect.client.orchestration import get_client

from flows.rounds import REPLY_DEPLOYMENT
from tests.conftest import REPO

POLL = 0.25  # seconds between two looks at something we wait for
SERVE = (
    "from flows.rounds import collect_status_reply; "
    "collect_status_reply.serve(name='collect-status-reply', pause_on_shutdown=False)"
)


def wait_for(check: Callable, what: str, seconds: float = 120, log: Path | None = None):
    """Poll ``check`` until it returns something true, or fail when the deadline passes."""
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.HTTPError as exc:  # a server not (yet, or no longer) answering
            result, last = None, exc
        if result:
            return result
        time.sleep(POLL)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {seconds} s waiting for {what} ({last})\n{tail}")


def deployment_served() -> bool:
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(REPLY_DEPLOYMENT)
            return True
        except ObjectNotFound:
            return False


@contextmanager
def serving_reply_runs(api_url: str, log_path: Path) -> Iterator[Path]:
    """Serve the reply deployment against ``api_url`` until the block ends; its log goes to
    a file (not a pipe nobody reads: a full pipe blocks the process) and is printed at the
    end, which pytest shows when the test fails."""
    env = dict(
        os.environ,
        PREFECT_API_URL=api_url,
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(deployment_served, "the reply deployment to be served", 60, log_path)
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)  # its runs are over: nothing is lost by not waiting longer
        except subprocess.TimeoutExpired:  # Prefect's runner can hang in its SIGTERM handler
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(log_path.read_text(errors="replace")[-8000:])
