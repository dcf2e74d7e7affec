"""`followup up` for real: a Prefect server, every deployment served with its schedule, the
reply app; a deployment run through the API; the UI in the machine's Chromium.

One `followup up` per module (it takes ~15 s to start), on free ports, with its data, its
SQLite files and PREFECT_HOME in a temporary folder. Everything waits by polling with a
deadline."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from flows.deployments import DEPLOYMENTS
from tests.browser import browser_page
from tests.conftest import BACKENDS, BUNDLED_PLAN, REPO, fresh_postgres_database
from tests.reply_runs import wait_for
from tests.servers import free_port

FOLLOWUP = str(Path(sys.executable).with_name("followup"))
SCREENSHOTS = REPO / "test-output"


@dataclass
class Up:
    ui_url: str
    api_url: str
    reply_url: str
    data_dir: Path
    log: Path
    backend: str
    timings: dict[str, float] = field(default_factory=dict)
    reminder_run: dict | None = None

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = httpx.request(method, f"{self.api_url}{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response


def deployment_names(up: Up) -> set[str]:
    return {d["name"] for d in up.api("POST", "/deployments/filter", json={}).json()}


@pytest.fixture(scope="module", params=BACKENDS)
def prefect_database(request) -> Iterator[str | None]:
    """The Prefect server's database: its default SQLite file, or a fresh PostgreSQL
    database (when FOLLOWUP_TEST_POSTGRES_URL is set), dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_postgres_database("prefect_test") as url:
        yield url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def up(tmp_path_factory, prefect_database) -> Iterator[Up]:
    """`followup up` as a subprocess on free ports, with the bundled plan imported."""
    folder = tmp_path_factory.mktemp("up")
    prefect_port, web_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FOLLOWUP_"))}
    env.update(
        FOLLOWUP_DATA_DIR=str(folder / "data"),
        PREFECT_HOME=str(folder / "prefect-home"),
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    if prefect_database:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = prefect_database
    for command in (["db", "upgrade"], ["import", str(BUNDLED_PLAN)]):
        subprocess.run([FOLLOWUP, *command], env=env, check=True, capture_output=True, timeout=60)
    log = folder / "up.log"
    started = time.monotonic()
    with log.open("wb") as out:  # a file, not a pipe that nobody reads
        process = subprocess.Popen(
            [FOLLOWUP, "up", "--prefect-port", str(prefect_port), "--web-port", str(web_port)],
            env=env,
            cwd=folder,  # served runs must not depend on the folder `up` starts in
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: nothing is left behind
        )
    result = Up(
        ui_url=f"http://127.0.0.1:{prefect_port}",
        api_url=f"http://127.0.0.1:{prefect_port}/api",
        reply_url=f"http://127.0.0.1:{web_port}",
        data_dir=folder / "data",
        log=log,
        backend="postgres" if prefect_database else "sqlite",
    )
    try:
        expected = {spec.name for spec in DEPLOYMENTS}
        wait_for(lambda: result.api("GET", "/health").json(), "the API", 90, log)
        result.timings["api healthy"] = time.monotonic() - started
        wait_for(lambda: deployment_names(result) == expected, "every deployment", 60, log)
        result.timings["deployments served"] = time.monotonic() - started
        wait_for(lambda: '<div id="app"' in httpx.get(result.ui_url, timeout=5).text, "the UI", 30)
        result.timings["UI answers"] = time.monotonic() - started
        yield result
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        finally:
            print(log.read_text(errors="replace")[-6000:])  # shown when a test fails
        assert code == 0
        assert "stopped: the Prefect server" in log.read_text(errors="replace")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{result.api_url}/health", timeout=2)


def test_every_deployment_is_served_with_its_schedule(up):
    deployments = {d["name"]: d for d in up.api("POST", "/deployments/filter", json={}).json()}
    for spec in DEPLOYMENTS:
        served = deployments[spec.name]
        schedules = [
            (s["schedule"]["cron"], s["schedule"]["timezone"]) for s in served["schedules"]
        ]
        assert schedules == ([(spec.cron, "Europe/Oslo")] if spec.cron else []), spec.name
        assert all(s["active"] for s in served["schedules"])
        assert served["description"] == spec.description
        assert not served["paused"]
    assert httpx.get(f"{up.reply_url}/healthz", timeout=5).status_code == 200  # the reply app
    print(f"followup up ({up.backend}) timings (s): {up.timings}")


@pytest.fixture(scope="module")
def reminder_run(up) -> dict:
    """send-reminders for 25 May 2020, run through the served deployment."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: up.api_url}):
        run = run_deployment(
            "send-reminders/send-reminders", parameters={"as_of": "2020-05-25"}, timeout=60
        )
    return up.api("GET", f"/flow_runs/{run.id}").json()


def test_send_reminders_runs_and_publishes_its_artifact(up, reminder_run):
    assert reminder_run["state"]["type"] == "COMPLETED", reminder_run["state"]
    assert reminder_run["name"] == "send-reminders 2020-05-25"
    artifacts = up.api(
        "POST",
        "/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [reminder_run["id"]]}}},
    ).json()
    (log,) = [a for a in artifacts if a["key"] == "reminder-log"]
    assert log["description"].startswith("2020-05-25: ")
    assert " 0 failed" in log["description"]
    assert (up.data_dir / "outbox").is_dir() and any((up.data_dir / "outbox").glob("*.json"))


def test_the_ui_shows_the_deployments_and_the_run(up, reminder_run):
    SCREENSHOTS.mkdir(exist_ok=True)
    with browser_page(viewport={"width": 1400, "height": 900}) as page:
        started = time.monotonic()
        page.goto(f"{up.ui_url}/deployments")
        page.get_by_text("send-reminders", exact=True).first.wait_for(timeout=30_000)
        page.get_by_text("reconcile-reply-runs", exact=True).first.wait_for(timeout=10_000)
        up.timings["deployments page rendered"] = time.monotonic() - started
        page.screenshot(path=str(SCREENSHOTS / f"up-deployments-{up.backend}.png"), full_page=True)

        page.goto(f"{up.ui_url}/runs/flow-run/{reminder_run['id']}")
        page.get_by_text("send-reminders 2020-05-25").first.wait_for(timeout=30_000)
        page.get_by_text("Completed").first.wait_for(timeout=10_000)
        page.get_by_text("Beginning flow run").first.wait_for(timeout=20_000)  # its log
        page.screenshot(path=str(SCREENSHOTS / f"up-flow-run-{up.backend}.png"), full_page=True)
        page.get_by_text("Artifacts", exact=True).first.click(timeout=10_000)
        page.get_by_text("reminder-log").first.wait_for(timeout=20_000)
    print(f"followup up ({up.backend}) timings (s): {up.timings}")


def test_a_run_whose_heartbeats_stop_is_marked_crashed_and_a_suspended_one_is_not(up):
    """`up` puts the automation on its server (three heartbeats' time: 9 minutes); made
    10 s here, a run that sent a heartbeat and then nothing is marked Crashed, while a run
    suspended after its heartbeat (a round waiting for replies) is left as it is."""
    from datetime import UTC, datetime, timedelta
    from uuid import uuid4

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.automations import UNRESPONSIVE_RUNS, apply_automations

    def automations() -> list[dict]:
        return [
            a
            for a in up.api("POST", "/automations/filter", json={}).json()
            if a["name"] == UNRESPONSIVE_RUNS
        ]

    (made,) = automations()
    assert made["enabled"] and made["trigger"]["within"] == 540.0
    with temporary_settings({PREFECT_API_URL: up.api_url}):
        assert apply_automations(timedelta(seconds=10)).startswith("updated")
    (made,) = automations()  # updated, not made twice
    assert made["trigger"]["within"] == 10.0

    flow_id = up.api("POST", "/flows/", json={"name": "heartbeat-probe"}).json()["id"]

    def running_run() -> str:
        state = {"type": "RUNNING", "name": "Running"}
        return up.api("POST", "/flow_runs/", json={"flow_id": flow_id, "state": state}).json()["id"]

    def heartbeat(run_id: str) -> None:
        event = {
            "id": str(uuid4()),
            "occurred": datetime.now(UTC).isoformat(),
            "event": "prefect.flow-run.heartbeat",
            "resource": {"prefect.resource.id": f"prefect.flow-run.{run_id}"},
        }
        up.api("POST", "/events", json=[event])

    def state(run_id: str) -> dict:
        return up.api("GET", f"/flow_runs/{run_id}").json()["state"]

    waiting, dead = running_run(), running_run()
    heartbeat(waiting)
    suspended = {"type": "PAUSED", "name": "Suspended"}
    up.api("POST", f"/flow_runs/{waiting}/set_state", json={"state": suspended, "force": True})
    heartbeat(dead)  # after the other's: its time runs out last

    crashed = wait_for(
        lambda: (s := state(dead))["type"] == "CRASHED" and s, "the run to be crashed", 90
    )
    assert "No heartbeat" in crashed["message"]
    assert state(waiting)["name"] == "Suspended"
