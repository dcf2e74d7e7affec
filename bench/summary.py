"""Benchmark: the follow-up summary of a large plan, every format.

    .venv/bin/python -m bench.summary [--measures 10000] [--replies 50000] [--database-url URL]

It builds a plan of N measures over 13 goals, 8 ministries and 24 agencies (a third of the
measures with shared responsibility), two rounds, and R status replies spread over them (a
fifth of the measures unanswered in the second round), then times each step of writing the
summary of the second round: the roll-up (one pass over the database), the view in bokmål,
and each format (HTML, Markdown, Word, CSV and
JSON). It prints a table; the target is every format in under 10 s."""

import argparse
import os
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

AS_OF = date(2020, 6, 1)
STATUSES = ["not_started", "on_track", "at_risk", "delayed", "completed", "cancelled", "paused"]


def build(n: int, replies: int, data_dir: Path, database_url: str | None) -> int:
    """A migrated database with one large plan; returns the second round's id."""
    os.environ["FOLLOWUP_DATA_DIR"] = str(data_dir)
    if database_url:
        os.environ["FOLLOWUP_DATABASE_URL"] = database_url
    from sqlalchemy import insert, text

    from models.db import get_engine
    from models.migrate import upgrade
    from models.plan import (
        Contact,
        Goal,
        Measure,
        MeasureSharedOrganisation,
        Organisation,
        Plan,
        PlanRole,
    )
    from models.reporting import ReportingRound, RoundItem, StatusReport
    from models.settings import get_settings
    from models.types import utcnow

    get_settings.cache_clear()
    get_engine.cache_clear()
    engine = get_engine()
    upgrade(engine)
    now = utcnow()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE plan RESTART IDENTITY CASCADE"))
        plan_id = conn.execute(
            insert(Plan)
            .values(
                key="bench-summary", title="Benchmark plan", reference="Bench",
                period_start=date(2019, 1, 1), period_end=date(2024, 12, 31),
                created_at=now, updated_at=now,
            )
            .returning(Plan.id)
        ).scalar_one()  # fmt: skip
        ministries = [
            conn.execute(
                insert(Organisation)
                .values(plan_id=plan_id, key=f"DEP{i}", name=f"Departement {i}", kind="ministry")
                .returning(Organisation.id)
            ).scalar_one()
            for i in range(8)
        ]
        agencies = [
            conn.execute(
                insert(Organisation)
                .values(
                    plan_id=plan_id, key=f"DIR{i}", name=f"Direktorat {i}", kind="directorate",
                    parent_id=ministries[i % 8],
                )
                .returning(Organisation.id)
            ).scalar_one()
            for i in range(24)
        ]  # fmt: skip
        orgs = ministries + agencies
        contacts = [
            conn.execute(
                insert(Contact)
                .values(
                    plan_id=plan_id, key=f"c{i}", name=f"Person {i}", organisation_id=orgs[i % 32],
                    language="nb", channels=[f"p{i}@example.org"],
                )
                .returning(Contact.id)
            ).scalar_one()
            for i in range(200)
        ]  # fmt: skip
        conn.execute(
            insert(PlanRole).values(plan_id=plan_id, contact_id=contacts[0], role="coordinator")
        )
        goals = [
            conn.execute(
                insert(Goal)
                .values(plan_id=plan_id, number=g + 1, title=f"Hovedmål {g + 1}")
                .returning(Goal.id)
            ).scalar_one()
            for g in range(13)
        ]
        rows = [
            dict(
                plan_id=plan_id, number=k, title=f"Tiltak nummer {k} for barn og unge",
                goal_id=goals[k % 13], lead_organisation_id=orgs[k % 32],
                owner_id=contacts[k % 200],
                planned_start=date(2019, 1, 1) + timedelta(days=k % 700),
                planned_end=date(2020, 1, 1) + timedelta(days=k % 1000), priority=k % 5 or None,
            )
            for k in range(1, n + 1)
        ]  # fmt: skip
        for start in range(0, n, 5000):
            conn.execute(insert(Measure), rows[start : start + 5000])
        ids = [r[0] for r in conn.execute(text("SELECT id FROM measure ORDER BY number"))]
        conn.execute(
            insert(MeasureSharedOrganisation),
            [
                dict(measure_id=mid, organisation_id=orgs[(k + 7) % 32], position=0)
                for k, mid in enumerate(ids)
                if k % 3 == 0 and (k + 7) % 32 != k % 32
            ],
        )
        r1, r2 = (
            conn.execute(
                insert(ReportingRound)
                .values(
                    plan_id=plan_id, label=label, as_of=as_of, deadline=as_of + timedelta(days=7),
                    state=state, opened_at=now, closed_at=closed,
                )
                .returning(ReportingRound.id)
            ).scalar_one()
            for label, as_of, state, closed in [
                ("Mars 2020", date(2020, 3, 2), "closed", datetime(2020, 3, 16, tzinfo=UTC)),
                ("Juni 2020", AS_OF, "open", None),
            ]
        )  # fmt: skip
        conn.execute(
            insert(RoundItem),
            [dict(round_id=r2, item=f"measure:{mid}", contact_id=contacts[0]) for mid in ids],
        )
        text_ = "Arbeidet går etter planen; neste steg er høring og <b>innspill</b> | møter. " * 3
        batch = []
        for k in range(replies):
            second = k >= replies // 2
            batch.append(
                dict(
                    plan_id=plan_id, measure_id=ids[(k * 7919) % (n * 4 // 5 if second else n)],
                    round_id=r2 if second else r1,
                    contact_id=contacts[k % 200], status=STATUSES[(k * 31) % 7],
                    progress=k % 101, done=text_, next_steps=text_,
                    risk_note=text_ if k % 4 else None,
                    submitted_at=datetime(2020, 6 if second else 3, 3, tzinfo=UTC)
                    + timedelta(seconds=k),
                    channel="web",
                )
            )  # fmt: skip
        for start in range(0, len(batch), 5000):
            conn.execute(insert(StatusReport), batch[start : start + 5000])
    return r2


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", type=int, default=10_000)
    parser.add_argument("--replies", type=int, default=50_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-summary-"))
    try:
        round_id = build(args.measures, args.replies, data_dir, args.database_url)
        from models.db import session_scope
        from models.rollup import compute_rollup
        from notifications.summary import render_html, render_markdown, summary_view
        from notifications.summary_data import write_csv, write_json
        from notifications.summary_docx import write_docx

        out = data_dir / "out"
        out.mkdir()
        steps = []

        def rollup():
            with session_scope() as session:
                return compute_rollup(session, round_id=round_id)

        seconds, r = timed(rollup)
        steps.append(("roll-up (database)", seconds, None))
        seconds, view = timed(lambda: summary_view(r, "nb"))
        steps.append(("view (nb) + SVG", seconds, None))
        for name, path, fn in [
            ("HTML", out / "s.html", lambda p: p.write_text(render_html(view), encoding="utf-8")),
            ("Markdown", out / "s.md", lambda p: p.write_text(render_markdown(view), "utf-8")),
            ("Word", out / "s.docx", lambda p: write_docx(view, p)),
            ("CSV", out / "items.csv", lambda p: write_csv(view, p)),
            ("JSON", out / "items.json", lambda p: write_json(view, p)),
        ]:
            seconds, _ = timed(lambda fn=fn, path=path: fn(path))
            steps.append((name, seconds, path.stat().st_size))
        total = sum(s for _, s, _ in steps)
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"\nfollow-up summary, {backend}: {args.measures:,} measures, {args.replies:,} "
            f"replies, round {r.round.label!r}: {r.totals.total:,} items, "
            f"{r.totals.overdue:,} overdue, {len(r.missing):,} missing\n"
        )
        print(f"| {'step':<20} | {'seconds':>7} | {'file size':>12} |")
        print(f"|{'-' * 22}|{'-' * 9}|{'-' * 14}|")
        for name, seconds, size in steps:
            size_text = f"{size / 1e6:,.1f} MB" if size is not None else ""
            print(f"| {name:<20} | {seconds:>7.2f} | {size_text:>12} |")
        print(f"| {'all formats':<20} | {total:>7.2f} | {'':>12} |")
        print(f"\ntarget: under 10 s: {'met' if total < 10 else 'NOT met'}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
