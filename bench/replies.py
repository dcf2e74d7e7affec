"""Benchmark: concurrent owners replying through the web app, on PostgreSQL.

    .venv/bin/python -m bench.replies [--database-url URL] [--seconds 60] [--users 50]
                                      [--workers 2] [--think 0]

It creates a fresh database on the server of URL (dropped at the end), migrates it, imports a
plan of USERS owners with three measures each, opens a round and sends the invitations to
the outbox. The reply app then runs under uvicorn in its own processes (``--workers``, through
followup.web.serve), and this process plays USERS owners at once (loopback only), each taking
the link from their own invitation and repeating what a person does: open the form, send a
status for their three measures, open the receipt. Every request has a timeout and the run
stops after ``--seconds``.

Two scenarios, told apart in the printed header:

* ``--think 0`` (default): saturation. Every owner sends the next request the moment the
  last one is answered (a closed loop of USERS requests in flight), so the latency is set
  by throughput: about USERS / (requests per second).
* ``--think T``: people. After each round (form, reply, receipt) an owner pauses a random
  0.5 T to 1.5 T seconds, and owners start at random moments within the first T seconds,
  as people do; a fixed pause would keep all of them in lockstep, arriving in waves.

The owners are played by one asyncio loop speaking plain HTTP/1.1 over one keep-alive
connection per owner (as a browser does): a light load generator, so that on a small
machine the measurement is of the app and not of the client's own CPU use.

It prints requests, throughput and latency (p50/p95/p99) per kind of request, errors, and
then checks the history: every submission the app answered 303 for must be in the database
with all its rows. Target: p95 under 100 ms, nothing lost."""

import argparse
import asyncio
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import yaml

DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
ITEMS_PER_OWNER = 3
REQUEST_TIMEOUT = 10.0
LINK = re.compile(r"http://127\.0\.0\.1:\d+/r/\d+/[A-Za-z0-9_.\-]+")


@dataclass
class Stats:
    """What the simulated owners saw, per kind of request."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)  # submissions answered with 303

    def add(self, kind: str, seconds: float, error: str | None = None) -> None:
        self.latencies[kind].append(seconds)  # one asyncio loop: no lock needed
        if error:
            self.errors[f"{kind}: {error}"] += 1


def plan_file(users: int, folder: Path) -> Path:
    """A plan with ``users`` owners, each responsible for three open measures."""
    languages = ["nb", "nn", "en"]
    contacts = [
        {
            "key": f"eier-{i}",
            "name": f"Eier {i}",
            "organisation": "Hdir",
            "language": languages[i % 3],
            "channels": [f"eier{i}@example.org"],
        }
        for i in range(users)
    ]
    contacts.insert(
        0,
        {
            "key": "koord",
            "name": "Kari Koordinator",
            "organisation": "Hdir",
            "channels": ["koord@example.org"],
        },
    )
    measures = [
        {
            "number": i * ITEMS_PER_OWNER + j + 1,
            "title": f"Tiltak {i * ITEMS_PER_OWNER + j + 1} for eier {i}",
            "lead": "Hdir",
            "owner": f"eier-{i}",
            "planned_end": "2021-06-30",
        }
        for i in range(users)
        for j in range(ITEMS_PER_OWNER)
    ]
    data = {
        "plan": {
            "key": "bench-replies",
            "title": "Benchmark: svar fra eiere",
            "reference": "Bench",
            "period": {"start": "2019-01-01", "end": "2024-12-31"},
            "coordinator": "koord",
        },
        "organisations": [
            {"key": "HOD", "name": "Helse- og omsorgsdepartementet", "kind": "ministry"},
            {"key": "Hdir", "name": "Helsedirektoratet", "kind": "directorate", "parent": "HOD"},
        ],
        "contacts": contacts,
        "measures": measures,
        "assignments": [],
    }
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def prepare(users: int, folder: Path) -> dict[str, tuple[str, list[str]]]:
    """Migrate, import, open a round, send invitations; each owner's link and items by e-mail."""
    from sqlmodel import select

    from models.db import get_engine, session_scope
    from models.importer import import_path
    from models.migrate import upgrade
    from models.plan import Plan
    from models.reminders import load_context
    from models.rounds import open_round, scope_of
    from models.settings import get_settings
    from notifications.delivery import deliver
    from notifications.dispatch import pending_deliveries
    from notifications.outbox import read_outbox
    from notifications.round_messages import compose_invitations

    upgrade(get_engine())
    with session_scope() as session:
        import_path(session, str(plan_file(users, folder)))
    with session_scope() as session:
        plan = session.exec(select(Plan)).one()
        rnd = open_round(
            session, label="2. tertial 2020", as_of=date(2020, 8, 31), deadline=date(2020, 9, 15)
        )
        compose_invitations(session, load_context(session, plan), rnd)
        items: dict[int, list[str]] = defaultdict(list)
        for row in scope_of(session, rnd.id):
            items[row.contact_id].append(row.item)
    deliver(pending_deliveries(), get_settings())
    get_engine().dispose()
    owners = {}
    for message in read_outbox(get_settings().outbox_dir):
        links = LINK.findall(message.text)
        if message.to.startswith("eier") and links:
            contact_id = _contact_of(links[0])
            owners[message.to] = (links[0], items[contact_id])
    if len(owners) != users:
        raise SystemExit(f"expected {users} invitations with a link, found {len(owners)}")
    return owners


def _contact_of(link: str) -> int:
    from models.tokens import read_token

    return read_token(link.rsplit("/", 1)[1]).contact_id


def app_concurrency() -> tuple[int, int]:
    """Request threads per app worker and the connections its pool keeps, as the app sizes
    them (followup.web.app.request_threads), from the same settings."""
    from followup.web.app import request_threads
    from models.db import get_engine

    threads, pool = request_threads(), get_engine().pool.size()
    get_engine().dispose()
    return threads, pool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    """uvicorn through followup.web.serve: one socket per worker (SO_REUSEPORT), so that
    connections are spread over the workers and keep TCP_NODELAY (see that module)."""
    command = [
        sys.executable,
        "-m",
        "followup.web.serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(command, env=env, start_new_session=True)


def wait_healthy(base_url: str, process: subprocess.Popen, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the reply app exited with status {process.returncode}")
            try:
                if client.get(f"{base_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # poll interval
    raise SystemExit(f"the reply app at {base_url} did not answer /healthz in {seconds} s")


def stop_app(process: subprocess.Popen) -> None:
    """SIGTERM to the app's process group (the uvicorn supervisor and its workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def reply_fields(items: list[str], rng: random.Random) -> dict[str, list[str]]:
    """A valid reply for every item, with a mix of statuses and text."""
    data: dict[str, list[str]] = {"lang": ["nb"], "item": list(items)}
    for token in items:
        status = rng.choice(["on_track", "on_track", "at_risk", "delayed", "completed"])
        data[f"{token}.status"] = [status]
        data[f"{token}.progress"] = [str(rng.randint(0, 100))]
        data[f"{token}.done"] = ["Gjennomført arbeidsmøter og kartlegging. " * rng.randint(1, 5)]
        data[f"{token}.next_steps"] = ["Neste steg er å ferdigstille rapporten."]
        if status in ("at_risk", "delayed"):
            data[f"{token}.risk_note"] = ["Kapasitet i fagavdelingen."]
        if status == "delayed":
            data[f"{token}.expected_completion"] = ["2021-03-31"]
    return data


class HttpError(Exception):
    """The server broke the HTTP exchange (closed the connection, sent garbage)."""


class Connection:
    """One keep-alive HTTP/1.1 connection, as one browser tab keeps it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, target: str, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if method == "POST":
            head += (
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n"
            )
        self.writer.write(head.encode("latin-1") + b"\r\n" + body)
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise HttpError("no response") from exc
        lines = raw.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError) as exc:
            raise HttpError(f"bad status line {lines[0]!r}") from exc
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            content = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                content += await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        else:
            content = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def owner(
    link: str, items: list[str], stop_at: float, think: float, stats: Stats, seed: int
) -> None:
    """One person: form, reply, receipt, again until the time is up."""
    rng = random.Random(seed)
    parts = urlsplit(link)
    path = parts.path
    connection = Connection(parts.hostname, parts.port)
    if think:
        await asyncio.sleep(rng.uniform(0, think))  # people do not all start at once
    try:
        while time.monotonic() < stop_at:
            location = None
            for kind in ("form", "reply", "receipt"):
                if kind == "receipt" and location is None:
                    break
                if kind == "form":
                    method, target, body, expected = "GET", path, b"", 200
                elif kind == "reply":
                    body = urlencode(reply_fields(items, rng), doseq=True).encode()
                    method, target, expected = "POST", path, 303
                else:
                    method, target, body, expected = "GET", location, b"", 200
                start = time.perf_counter()
                try:
                    status, headers, _ = await asyncio.wait_for(
                        connection.request(method, target, body), REQUEST_TIMEOUT
                    )
                except (TimeoutError, OSError, HttpError, asyncio.IncompleteReadError) as exc:
                    stats.add(kind, time.perf_counter() - start, type(exc).__name__)
                    connection.close()  # its state is unknown: start afresh
                    break
                elapsed = time.perf_counter() - start
                if status != expected:
                    stats.add(kind, elapsed, f"HTTP {status}")
                    break
                stats.add(kind, elapsed)
                if kind == "reply":
                    location = headers["location"]
                    stats.acknowledged.append(urlsplit(location).path.rsplit("/", 1)[1])
            if think:
                # the person reads and types: pacing, not waiting on state
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))
    finally:
        connection.close()


def load(owners: dict[str, tuple[str, list[str]]], seconds: float, think: float, stats: Stats):
    """Every owner at once, all in one event loop, for ``seconds``; the time it took."""

    async def run() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(
            *(
                owner(link, items, stop_at, think, stats, i)
                for i, (link, items) in enumerate(owners.values())
            )
        )

    began = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - began


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def print_table(stats: Stats, seconds: float) -> None:
    header = f"{'request':<10}{'count':>9}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    print(header + f"{'max ms':>9}{'errors':>8}")
    print("-" * (len(header) + 17))
    kinds = ["form", "reply", "receipt"]
    rows = [(k, stats.latencies[k]) for k in kinds]
    rows.append(("all", [x for k in kinds for x in stats.latencies[k]]))
    for kind, values in rows:
        errors = sum(
            n for name, n in stats.errors.items() if kind == "all" or name.startswith(kind + ":")
        )
        ms = [v * 1000 for v in values]
        print(
            f"{kind:<10}{len(ms):>9}{len(ms) / seconds:>9.1f}{percentile(ms, 50):>9.1f}"
            f"{percentile(ms, 95):>9.1f}{percentile(ms, 99):>9.1f}"
            f"{max(ms, default=float('nan')):>9.1f}{errors:>8}"
        )
    for name, n in stats.errors.most_common():
        print(f"  error {name}: {n}")


def check_history(stats: Stats) -> bool:
    """Every acknowledged submission is in the history with all its rows."""
    from sqlalchemy import func
    from sqlmodel import select

    from models.db import get_engine, session_scope
    from models.reporting import StatusReport

    with session_scope() as session:
        counts = dict(
            session.exec(
                select(StatusReport.submission, func.count()).group_by(StatusReport.submission)
            ).all()
        )
    get_engine().dispose()
    acknowledged = set(stats.acknowledged)
    missing = [s for s in acknowledged if s not in counts]
    partial = [s for s in acknowledged if 0 < counts.get(s, 0) != ITEMS_PER_OWNER]
    unacknowledged = set(counts) - acknowledged
    rows = sum(counts.values())
    print(
        f"history: {len(acknowledged)} submissions answered 303, {len(counts)} in the database "
        f"({rows} rows); missing {len(missing)}, incomplete {len(partial)}, "
        f"recorded without a 303 seen by the client {len(unacknowledged)}"
    )
    ok = not missing and not partial and len(acknowledged) == len(stats.acknowledged)
    print("check: " + ("nothing lost" if ok else "LOST OR INCOMPLETE SUBMISSIONS"))
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="PostgreSQL server (admin).")
    parser.add_argument("--seconds", type=float, default=60.0, help="Length of the load.")
    parser.add_argument("--users", type=int, default=50, help="Owners replying at once.")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes.")
    parser.add_argument("--think", type=float, default=0.0, help="Pause per owner per round.")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="Load before measuring (imports, caches)."
    )
    args = parser.parse_args()
    if not 1 <= args.users <= 500:
        parser.error("--users must be between 1 and 500")

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(args.database_url)
    if admin_url.get_backend_name() != "postgresql":
        parser.error("--database-url must be a PostgreSQL URL")
    name = f"followup_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    folder = Path(tempfile.mkdtemp(prefix="followup-bench-replies-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUP_", "PREFECT_API"))}
    env.update(
        FOLLOWUP_DATA_DIR=str(folder / "data"),
        FOLLOWUP_DATABASE_URL=url,
        FOLLOWUP_PUBLIC_URL=f"http://127.0.0.1:{port}",
        FOLLOWUP_SECRET_KEY=uuid.uuid4().hex * 2,
        FOLLOWUP_DELIVERY="outbox",
    )
    os.environ.clear()
    os.environ.update(env)
    app = None
    ok = False
    try:
        started = time.perf_counter()
        owners = prepare(args.users, folder)
        print(
            f"database {name}: {args.users} owners x {ITEMS_PER_OWNER} measures, round opened, "
            f"invitations in the outbox ({time.perf_counter() - started:.1f} s)"
        )
        threads, pool = app_concurrency()
        load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
        app = start_app(port, args.workers, env)
        wait_healthy(f"http://127.0.0.1:{port}", app)
        warm = Stats()
        load(owners, args.warmup, args.think, warm)
        stats = Stats()
        own_cpu = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = load(owners, args.seconds, args.think, stats)
        after = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = after.ru_utime + after.ru_stime - own_cpu.ru_utime - own_cpu.ru_stime
        stop_app(app)  # its processes are waited for: their CPU time can be read
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        scenario = (
            f"people: think time {args.think:g} s per round (random 0.5x-1.5x, staggered starts)"
            if args.think
            else "saturation: no think time (closed loop, each owner always has a request out)"
        )
        print(
            f"{args.users} owners for {elapsed:.1f} s (after {args.warmup:g} s of warm-up); "
            f"{scenario}"
        )
        print(
            f"server: followup.web.serve (uvicorn), {args.workers} worker process(es) with a "
            f"socket each, {threads} request threads and {pool} pooled DB connections per "
            f"worker; "
            f"PostgreSQL on the same machine; {os.cpu_count()} cores; "
            f"load average before the run {load_before}"
        )
        print(
            "client: one asyncio loop in the bench process, plain HTTP/1.1, one keep-alive "
            f"connection per owner, timeout {REQUEST_TIMEOUT:g} s, loopback"
        )
        print()
        print_table(stats, elapsed)
        print(
            f"CPU: load generator {client_cpu:.1f} s, "
            f"reply app {children.ru_utime + children.ru_stime:.1f} s "
            f"(whole run, warm-up included) on {os.cpu_count()} cores"
        )
        print()
        stats.acknowledged += warm.acknowledged  # the history holds the warm-up's too
        ok = check_history(stats) and not stats.errors and not warm.errors
        p95 = percentile([x for v in stats.latencies.values() for x in v], 95) * 1000
        print(f"target p95 < 100 ms: {'met' if p95 < 100 else 'NOT met'} ({p95:.1f} ms)")
    finally:
        if app is not None:
            stop_app(app)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
