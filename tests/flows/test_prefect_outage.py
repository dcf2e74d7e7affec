"""Issue 6's fault test: the reply app keeps accepting replies while the Prefect server is
stopped, and the pending reply runs are reconciled when it is back.

A dedicated Prefect server (a subprocess with its own PREFECT_HOME and SQLite database in
the test's folder) is stopped and started again on the same port and database; the reply
deployment is served by its own process, as `followup up` does; the reply app runs on a free
port and a reply is posted to it over HTTP from the link in the person's invitation. The
session's `prefect_server` harness is not used here (nor disturbed): this test points its
Prefect client at its own server through a settings context that ends with the test.

The app's database is SQLite only (even when FOLLOWUP_TEST_POSTGRES_URL is set): the point
is the Prefect outage, which does not depend on the app's database backend, and each run of
this test costs ~40 s."""

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlmodel import select

from flows.rounds import (
    close_status_round,
    open_status_round,
    reconcile_reply_runs,
)
from followup.up import wait_healthy
from models.db import session_scope
from models.plan import Contact
from models.reporting import ReplyChannel, RoundContact, StatusReport
from models.settings import get_settings
from notifications.outbox import read_outbox
from tests.plans import import_plan_data, plan_data
from tests.reply_runs import serving_reply_runs, wait_for
from tests.servers import free_port
from tests.web import LINK, live_app, read_form  # noqa: F401 (live_app: a fixture)

PREFECT = str(Path(sys.executable).with_name("prefect"))

PEOPLE = [
    {"key": "anne", "name": "Anne Avbrot", "language": "nb", "channels": ["anne@example.org"]},
    {"key": "bjorn", "name": "Bjørn Ventar", "language": "nb", "channels": ["bjorn@example.org"]},
]
MEASURES = [
    {"number": 1, "title": "Første tiltak", "owner": "anne", "planned_end": "2020-06-01"},
    {"number": 2, "title": "Andre tiltak", "owner": "bjorn", "planned_end": "2020-09-01"},
]


@dataclass
class PrefectServer:
    """`prefect server start` as a subprocess that can be stopped and started again on the
    same port with the same database (its PREFECT_HOME holds the SQLite file)."""

    port: int
    home: Path
    log: Path
    process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        """Start the server and wait until it is healthy."""
        assert self.process is None, "already running"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FOLLOWUP_"))}
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_LOGGING_LEVEL="INFO",
        )
        with self.log.open("ab") as out:  # a file, not a pipe nobody reads; both runs kept
            self.process = subprocess.Popen(
                [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                cwd=self.home,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: nothing is left behind
            )
        wait_healthy(self.api_url, self.process, self.log, timeout=60)

    def stop(self) -> None:
        """Stop the server and wait until its process has ended and the port refuses."""
        if self.process is None:
            return
        process, self.process = self.process, None
        os.killpg(process.pid, signal.SIGTERM)  # a single process, in a group of its own
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{self.api_url}/health", timeout=2)


def flush_prefect_workers(timeout: float = 30) -> None:
    """Send what Prefect's process-wide event and log workers still hold, and stop them: the
    next event or log starts new ones with the settings then in force (as
    prefect_test_harness does when it ends). The events worker is one per process, not one
    per API URL: left running, it would carry the next tests' events to this test's server
    after it is gone, and the interpreter would then hang at exit retrying them (~1 min each)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (EventsWorker, APILogWorker):
        worker.drain_all(timeout=timeout)


@pytest.fixture
def prefect_api(tmp_path) -> Iterator[PrefectServer]:
    """A Prefect server of this test's own; this test's Prefect client points at it (in this
    thread's context only, restored afterwards: the session's harness is left alone)."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    server = PrefectServer(port=free_port(), home=home, log=tmp_path / "prefect-server.log")
    try:
        server.start()
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            flush_prefect_workers()  # the harness's, when it ran before: ours start afresh
            try:
                yield server
            finally:
                if server.process is None:  # failed while it was down: flush to a live one
                    server.start()
                flush_prefect_workers()
    finally:
        try:
            server.stop()
        finally:
            print(server.log.read_text(errors="replace")[-6000:])  # shown when the test fails


@pytest.fixture
def served_reply_deployment(settings_env, prefect_api, tmp_path) -> Iterator[Path]:
    """`collect-status-reply` served by its own process against this test's server."""
    with serving_reply_runs(prefect_api.api_url, tmp_path / "serve.log") as log:
        yield log


@pytest.fixture
def reply_app(prefect_api, live_app) -> str:  # noqa: F811
    """The reply app (tests.web.live_app), started after this test's Prefect settings are in
    place, so its background `sync_prefect` talks to this test's server."""
    return live_app


def runs_of(round_id: int) -> dict[str, tuple[int, str, bool]]:
    """Per person (contact key): contact id, flow run id, run_resolved."""
    with session_scope() as session:
        return {
            session.get(Contact, rc.contact_id).key: (
                rc.contact_id,
                rc.flow_run_id,
                rc.run_resolved,
            )
            for rc in session.exec(select(RoundContact).where(RoundContact.round_id == round_id))
        }


def run_state(run_id: str) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(run_id)).state.name


def invitation_link(round_id: int, address: str) -> str:
    """The reply link as the person's invitation in the outbox holds it."""
    links = {
        link
        for message in read_outbox(get_settings().outbox_dir)
        if message.to == address
        for link in LINK.findall(message.text)
        if f"/r/{round_id}/" in link
    }
    assert len(links) == 1, f"one link in {address}'s invitation, found {links}"
    return links.pop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_replies_are_taken_while_prefect_is_down_and_reconciled_when_it_is_back(
    prefect_api, served_reply_deployment, reply_app, tmp_path, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="followup.web")
    took: dict[str, float] = {}  # seconds per step, printed at the end
    mark = time.monotonic()

    def step(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        took[name] = round(now - mark, 2)
        mark = now

    import_plan_data(tmp_path, plan_data(PEOPLE, MEASURES))
    round_id = open_status_round(
        label="Tertial", as_of=date(2020, 5, 4), deadline=date(2020, 5, 29)
    )
    runs = runs_of(round_id)
    assert set(runs) == {"anne", "bjorn"}
    (anne_id, anne_run, _), (_, bjorn_run, _) = runs["anne"], runs["bjorn"]
    wait_for(
        lambda: {run_state(anne_run), run_state(bjorn_run)} == {"Suspended"},
        "both reply runs to suspend",
        60,
        served_reply_deployment,
    )
    step("round opened, both runs suspended")

    # The Prefect server goes down.
    prefect_api.stop()
    step("server stopped")

    # Anne replies through her invitation's link: the reply app takes it as always.
    url = invitation_link(round_id, "anne@example.org")
    assert url.startswith(f"{reply_app}/r/{round_id}/")
    path = urlsplit(url).path
    with httpx.Client(base_url=reply_app, timeout=20, follow_redirects=False) as client:
        form = read_form(client.get(path).text)
        (item,) = form.items
        started = time.monotonic()
        posted = client.post(
            path,
            data={
                "lang": "nb",
                "item": [item],
                f"{item}.status": "delayed",
                f"{item}.progress": "40",
                f"{item}.expected_completion": "2020-10-15",
                f"{item}.risk_note": "Prefect var nede",
            },
        )
        post_seconds = time.monotonic() - started
        assert posted.status_code == 303, posted.text[:2000]
        location = posted.headers["location"]
        assert location.startswith(f"{path}/receipt/")
        receipt = client.get(location)
        receipt_seconds = time.monotonic() - started
    assert receipt.status_code == 200
    assert "Takk, statusen er registrert" in receipt.text
    assert "forsinket" in receipt.text and "40 %" in receipt.text
    assert post_seconds < 5 and receipt_seconds < 5, (post_seconds, receipt_seconds)

    # The reply is in the database...
    with session_scope() as session:
        rows = session.exec(select(StatusReport).where(StatusReport.round_id == round_id)).all()
        assert [
            (r.contact_id, r.item, r.status, r.progress, str(r.expected_completion), r.channel)
            for r in rows
        ] == [(anne_id, item, "delayed", 40, "2020-10-15", ReplyChannel.WEB)]
        assert rows[0].risk_note == "Prefect var nede"
    # ...the app tried to tell Prefect after answering (a warning, no hang)...
    wait_for(
        lambda: any("Prefect not updated after a reply" in m for m in caplog.messages),
        "the reply app's warning that Prefect was not updated",
        15,
    )
    step("reply taken, app's sync gave up")
    # ...and Prefect was not told: Anne's run is still unresolved.
    assert runs_of(round_id)["anne"][2] is False
    assert runs_of(round_id)["bjorn"][2] is False

    # The server is back on the same port and database; the reply runs are reconciled.
    prefect_api.start()
    step("server healthy again")
    assert {run_state(anne_run), run_state(bjorn_run)} == {"Suspended"}  # the same database
    assert reconcile_reply_runs() == 1
    step("reconciled")
    wait_for(
        lambda: run_state(anne_run) == "Completed",
        "Anne's run to complete",
        30,
        served_reply_deployment,
    )
    step("Anne's run completed")
    assert run_state(bjorn_run) == "Suspended"
    assert runs_of(round_id)["anne"][2] is True
    assert runs_of(round_id)["bjorn"][2] is False

    # Closing the round releases Bjørn's run too.
    close_status_round(round_id=round_id, summary=False)
    wait_for(
        lambda: run_state(bjorn_run) == "Completed",
        "Bjørn's run to complete",
        30,
        served_reply_deployment,
    )
    assert runs_of(round_id)["bjorn"][2] is True
    step("round closed, Bjørn's run completed")
    print(
        f"outage test timings (s): {took}; "
        f"reply POST {post_seconds:.2f}, receipt {receipt_seconds:.2f}"
    )
