"""`followup up`: everything on one machine, for real.

1. a Prefect server (UI and API) as a subprocess, its state under the data folder
   (``PREFECT_HOME``; its database is ``PREFECT_SERVER_DATABASE_CONNECTION_URL`` when set);
2. every deployment of flows/deployments.py served in this process (schedules in Oslo time);
3. the reply web app on its own port, in a thread.
Ctrl-C or SIGTERM stops all three; schedules stay active (no pause on shutdown)."""

import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx


class UpError(RuntimeError):
    """Something that keeps `followup up` from starting, said in one line."""


@dataclass(frozen=True)
class Addresses:
    host: str
    prefect_port: int
    web_port: int

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def reply_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"


def prefect_environment(addresses: Addresses, data_dir: Path) -> dict[str, str]:
    """The Prefect variables `up` sets for itself, the server and the flow runs it starts."""
    return {
        "PREFECT_HOME": os.environ.get("PREFECT_HOME") or str((data_dir / "prefect").resolve()),
        "PREFECT_API_URL": addresses.api_url,
        # The browser calls this API (not port 4200); behind a proxy, set both to the
        # public addresses and they are kept.
        "PREFECT_UI_API_URL": os.environ.get("PREFECT_UI_API_URL") or addresses.api_url,
        "PREFECT_UI_URL": os.environ.get("PREFECT_UI_URL") or addresses.ui_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": os.environ.get(
            "PREFECT_SERVER_ANALYTICS_ENABLED", "false"
        ),
        # A Quick run in the UI starts within seconds, not the default 10.
        "PREFECT_RUNNER_POLL_FREQUENCY": os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY", "2"),
    }


def start_server(addresses: Addresses, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`prefect server start` on the host and port, its output in ``log_path``."""
    server_env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    server_env.update({k: v for k, v in env.items() if k != "PREFECT_API_URL"})
    log_path.parent.mkdir(parents=True, exist_ok=True)
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]
    command += ["server", "start", "--host", addresses.host, "--port", str(addresses.prefect_port)]
    with log_path.open("ab") as log:  # a file, not a pipe that nobody reads
        return subprocess.Popen(
            command, env=server_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def wait_healthy(
    api_url: str, process: subprocess.Popen, log_path: Path, timeout: float = 120
) -> float:
    """Poll ``/api/health`` until it answers or the deadline passes; returns seconds taken."""
    start = time.monotonic()
    deadline = start + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise UpError(
                    f"the Prefect server exited with status {process.returncode}: "
                    f"{_tail(log_path)} (log: {log_path})"
                )
            try:
                if client.get(f"{api_url}/health").status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
    raise UpError(f"the Prefect server did not answer at {api_url} in {timeout:.0f} s")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:])


def start_web(host: str, port: int):
    """The reply web app (uvicorn) in a daemon thread; returns the server to stop."""
    import uvicorn

    config = uvicorn.Config(
        "followup.web.app:create_app", factory=True, host=host, port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="reply-web-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise UpError(f"the reply web app did not start on {host}:{port} (port in use?)")
        time.sleep(0.05)
    server.thread = thread  # type: ignore[attr-defined]
    return server


def stop_web(server) -> None:
    """Stop the reply web app started by start_web."""
    server.should_exit = True
    server.thread.join(timeout=10)


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def apply_automations_at() -> str:
    """Apply followup's automation on the Prefect server at PREFECT_API_URL; one line
    saying what was done. Without PREFECT_API_URL it would go to a throwaway local server."""
    from prefect.settings import get_current_settings

    from flows.automations import NO_HEARTBEATS, apply_automations

    api_url = get_current_settings().api.url
    if not api_url:
        raise UpError("PREFECT_API_URL is not set: say which Prefect server runs the flows")
    try:
        done = apply_automations()
    except httpx.HTTPError as exc:
        raise UpError(f"cannot reach the Prefect server at {api_url}: {exc}") from exc
    return done or NO_HEARTBEATS


def run_up(addresses: Addresses, say: Callable[[str], None] = print) -> None:
    """Start the server, serve the deployments and the reply app; block until stopped."""
    from models.settings import get_settings

    settings = get_settings()
    env = prefect_environment(addresses, settings.data_dir)
    os.environ.update(env)
    os.environ.setdefault("FOLLOWUP_PUBLIC_URL", addresses.reply_url)
    get_settings.cache_clear()
    log_path = settings.data_dir / "logs" / "prefect-server.log"
    started = time.monotonic()
    server = start_server(addresses, env, log_path)
    web = None
    try:
        wait_healthy(addresses.api_url, server, log_path)
        # Prefect read its settings when imported; make it see the variables set above.
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()
        say(apply_automations_at())
        from prefect import serve

        from flows.deployments import DEPLOYMENTS, to_deployments

        web = start_web(addresses.host, addresses.web_port)
        deployments = to_deployments()
        say(f"Prefect UI:  {addresses.ui_url}  (server log: {log_path})")
        say(f"Reply app:   {addresses.reply_url}  (links use {get_settings().public_url})")
        say(
            f"serving {len(DEPLOYMENTS)} deployments: {', '.join(s.name for s in DEPLOYMENTS)}"
            f" (ready in {time.monotonic() - started:.1f} s; Ctrl-C stops)"
        )
        # Prefect's SIGTERM handler calls an async stop without awaiting it, then exits;
        # the warning that leaves says nothing useful.
        warnings.filterwarnings("ignore", message="coroutine 'Runner.astop' was never awaited")
        serve(*deployments, pause_on_shutdown=False, print_starting_message=False)
    finally:
        if web is not None:
            stop_web(web)
        stop_process(server)
        say("stopped: the Prefect server, the deployments and the reply app")
