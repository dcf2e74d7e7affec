"""Benchmark: a full send-reminders run to the outbox, beside a floor measured in the same run.

    .venv/bin/python -m bench.reminders [--sizes 1000 10000 100000] [--database-url URL]
                                        [--repeat 3]

For each size it builds a plan of N open deadlines across 2,000 contacts (every deadline due
for a reminder on the run's day), then times
- floor: the bare query of what is due plus rendering every digest (no Prefect, no writes,
  no delivery): the least any implementation must do;
- full run: the send-reminders flow (claims, digests, delivery to the outbox, artifact).
The floor and the full run alternate ``--repeat`` times on the same plan (the run's claims
and messages emptied in between, its outbox moved aside), so that both meet the same
machine: on a shared 2-core machine one run can be a third slower than the next. It prints
a table of the medians and the spread of the ratio; the target is 100,000 deadlines in
under 60 s and within 2x the floor.

Nothing is deleted from disk until the end. These machines' disk is ext4 without a journal,
which does not reuse an inode freed in the last minute (six while its block is unwritten)
and steps over each such inode again at every file it creates: with 10,000 outbox files
deleted shortly before, writing the 2,000 messages took 1-1.7 s longer. The bench prints
what creating a file cost at its start, so that a run after some other mass deletion on the
machine shows as such."""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

AS_OF = date(2020, 5, 25)
CONTACTS = 2000
SLOW_FILE_MS = 0.1  # creating a file on a quiet machine here: 0.02-0.04 ms


def build(n: int, data_dir: Path, database_url: str | None) -> None:
    """A migrated database holding one plan with n measures (bulk inserted)."""
    os.environ["FOLLOWUP_DATA_DIR"] = str(data_dir)
    if database_url:
        os.environ["FOLLOWUP_DATABASE_URL"] = database_url
    from models.db import get_engine
    from models.migrate import upgrade
    from models.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    engine = get_engine()
    upgrade(engine)
    from sqlalchemy import insert, text

    from models.plan import Contact, Measure, Organisation, Plan, PlanRole

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE plan RESTART IDENTITY CASCADE"))
        plan_id = conn.execute(
            insert(Plan)
            .values(
                key=f"bench-{n}",
                title=f"Benchmark plan ({n} deadlines)",
                reference="Bench",
                period_start=date(2019, 1, 1),
                period_end=date(2024, 12, 31),
                created_at=_now(),
                updated_at=_now(),
            )
            .returning(Plan.id)
        ).scalar_one()
        org_id = conn.execute(
            insert(Organisation)
            .values(plan_id=plan_id, key="ORG", name="Organisasjon", kind="agency")
            .returning(Organisation.id)
        ).scalar_one()
        languages = ["nb", "nn", "en"]
        conn.execute(
            insert(Contact),
            [
                dict(
                    plan_id=plan_id,
                    key=f"c{i}",
                    name=f"Person {i}",
                    organisation_id=org_id,
                    language=languages[i % 3],
                    channels=[f"person{i}@example.org"],
                )
                for i in range(CONTACTS)
            ],
        )
        ids = [
            r[0]
            for r in conn.execute(
                text("SELECT id FROM contact WHERE plan_id = :p ORDER BY id"), {"p": plan_id}
            )
        ]
        conn.execute(
            insert(PlanRole).values(
                plan_id=plan_id, contact_id=ids[0], role="coordinator", position=0
            )
        )
        rows = []
        for number in range(1, n + 1):
            # Deadlines from 4 weeks late to 4 weeks ahead: every one has a stage due today.
            offset = (number % 57) - 28
            rows.append(
                dict(
                    plan_id=plan_id,
                    number=number,
                    title=f"Tiltak nummer {number}",
                    lead_organisation_id=org_id,
                    owner_id=ids[number % CONTACTS],
                    planned_end=AS_OF + timedelta(days=offset),
                )
            )
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Measure), rows[start : start + 10_000])


def _now():
    from models.types import utcnow

    return utcnow()


def floor() -> tuple[float, int, int]:
    """Query what is due and render every digest; no writes, no Prefect, no delivery."""
    from collections import defaultdict

    from models.db import session_scope
    from models.reminders import due_reminders, load_context, plans
    from notifications.reminder_digest import render_reminder_digest

    start = time.perf_counter()
    with session_scope() as session:
        plan = plans(session)[0]
        ctx = load_context(session, plan)
        due = due_reminders(ctx, AS_OF)
        by_contact = defaultdict(list)
        for d in due:
            by_contact[d.contact_id].append(d)
        for contact_id, entries in by_contact.items():
            render_reminder_digest(ctx, ctx.contacts[contact_id], entries, AS_OF)
    return time.perf_counter() - start, len(due), len(by_contact)


def forget_run(data_dir: Path, repetition: int) -> None:
    """Empty what a full run wrote (claims, messages, deliveries; the outbox is moved aside,
    not deleted: see above), so that the next repetition sends everything again. On
    PostgreSQL by TRUNCATE: a DELETE would leave a hundred thousand dead rows for autovacuum
    to clear while the next repetition runs."""
    from sqlalchemy import text

    from models.db import session_scope
    from models.messages import Delivery, Digest, Reminder

    tables = (Delivery, Reminder, Digest)
    with session_scope() as session:
        if session.get_bind().dialect.name == "postgresql":
            names = ", ".join(t.__tablename__ for t in tables)
            session.execute(text(f"TRUNCATE {names}"))
        else:
            for table in tables:
                session.execute(table.__table__.delete())
    (data_dir / "outbox").rename(data_dir / f"outbox-{repetition}")


def file_cost(folder: Path, count: int = 500) -> float:
    """Milliseconds to create one small file in a new folder (the files are kept)."""
    folder.mkdir()
    start = time.perf_counter()
    for number in range(count):
        (folder / f"{number}.json").write_text("{}", encoding="utf-8")
    return (time.perf_counter() - start) / count * 1000


def full_run() -> tuple[float, object, str]:
    from flows.send_reminders import send_reminders

    start = time.perf_counter()
    state = send_reminders(as_of=AS_OF, return_state=True)
    elapsed = time.perf_counter() - start
    return elapsed, state.result(), phases(state.state_details.flow_run_id, elapsed)


def phases(flow_run_id, elapsed: float) -> str:
    """Where the run's time went, from Prefect's record of its task runs: each task's time
    (a mapped task: the span from its first start to its last end) and the rest (the flow's
    own work and Prefect's)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        for _ in range(50):  # task runs are recorded from events: wait until all are in
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if runs and all(r.start_time and r.end_time for r in runs):
                break
            time.sleep(0.1)
    spans: dict[str, list] = {}
    for r in runs:
        if r.start_time and r.end_time:
            name = r.name.rsplit("-", 1)[0]
            first, last, count = spans.get(name, (r.start_time, r.end_time, 0))
            spans[name] = [min(first, r.start_time), max(last, r.end_time), count + 1]
    parts, tasks = [], 0.0
    for name, (first, last, count) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        seconds = (last - first).total_seconds()
        tasks += seconds
        parts.append(f"{name}{f' x{count}' if count > 1 else ''} {seconds:.2f}")
    return ", ".join([*parts, f"rest {elapsed - tasks:.2f}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument(
        "--database-url", default=None, help="default: a fresh SQLite file per size"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="floor and full run, alternating (default 3)"
    )
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ["FOLLOWUP_DELIVERY"] = "outbox"

    from flows.send_reminders import send_reminders

    send_reminders(as_of=date(2020, 6, 1))  # warm up Prefect's local server (a holiday: no-op)

    root = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    file_ms = file_cost(root / "probe")
    results = []
    for n in args.sizes:
        data_dir = root / str(n)
        data_dir.mkdir()
        build(n, data_dir, args.database_url)
        floors, runs, details = [], [], []
        for repetition in range(args.repeat):
            if repetition:
                forget_run(data_dir, repetition)
            floor_s, due, recipients = floor()
            run_s, report, detail = full_run()
            outbox = len(list((data_dir / "outbox").glob("*.json")))
            assert report.claimed == due and outbox == recipients, "not every message went out"
            floors.append(floor_s)
            runs.append(run_s)
            details.append(detail)
        ratios = [r / f for r, f in zip(runs, floors, strict=True)]
        median = ratios.index(statistics.median_low(ratios))
        results.append(
            (n, due, recipients, floors[median], runs[median], ratios, outbox, details[median])
        )

    shutil.rmtree(root, ignore_errors=True)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"\nsend-reminders to the outbox, {backend}, {CONTACTS} contacts, as of {AS_OF}; "
        f"the repetition with the median ratio of {args.repeat}; creating a file cost "
        f"{file_ms:.3f} ms at the start\n"
    )
    if file_ms > SLOW_FILE_MS:
        print(
            f"(more than {SLOW_FILE_MS} ms: files were deleted on this disk in the last "
            "minutes, and every outbox file of the full runs paid for them)\n"
        )
    print(
        f"| {'deadlines':>9} | {'due':>7} | {'messages':>8} | {'floor s':>7} | "
        f"{'full run s':>10} | {'run/floor':>9} | {'ratio range':>11} | {'outbox files':>12} |"
    )
    print(
        f"|{'-' * 11}|{'-' * 9}|{'-' * 10}|{'-' * 9}|{'-' * 12}|{'-' * 11}|{'-' * 13}|{'-' * 14}|"
    )
    for n, due, recipients, floor_s, run_s, ratios, outbox, _ in results:
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(
            f"| {n:>9,} | {due:>7,} | {recipients:>8,} | {floor_s:>7.2f} | {run_s:>10.2f} | "
            f"{run_s / floor_s:>8.2f}x | {spread:>11} | {outbox:>12,} |"
        )
    print("\nthat full run by phase, seconds (from Prefect's task runs):")
    for n, *_, detail in results:
        print(f"  {n:>9,}: {detail}")
    print("\nrun/floor of each repetition, in order:")
    for n, _, _, _, _, ratios, _, _ in results:
        print(f"  {n:>9,}: {', '.join(f'{r:.2f}' for r in ratios)}")
    target = [r for r in results if r[0] == 100_000]
    if not target:
        print("\ntarget (100,000 deadlines: under 60 s, within 2x the floor): not run")
        return
    run_s, ratio = target[0][4], target[0][4] / target[0][3]
    print(
        f"\ntarget for 100,000 deadlines: under 60 s: {'met' if run_s < 60 else 'NOT met'} "
        f"({run_s:.1f} s); within 2x the floor: {'met' if ratio <= 2 else 'NOT met'} "
        f"({ratio:.2f}x)"
    )


if __name__ == "__main__":
    main()
