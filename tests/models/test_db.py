"""Storage: aware UTC timestamps and dates on both backends, SQLite set up for several
writers, and a schema only migrations create."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, text, update
from sqlmodel import select

from models.db import (
    driver_date,
    driver_execute,
    driver_timestamp,
    fast_insert,
    get_engine,
    make_engine,
    quick_commits,
    session_scope,
)
from models.migrate import (
    SchemaOutOfDate,
    alembic_config,
    current_revision,
    ensure_current,
    head_revision,
    upgrade,
)
from models.plan import Plan
from models.settings import get_settings
from tests.conftest import BACKENDS, BUNDLED_PLAN, fresh_postgres_database

# For what only PostgreSQL has (its settings, its compression, its connection handling).
ON_POSTGRES = pytest.mark.parametrize(
    "database_url", [b for b in BACKENDS if b == "postgres"], indirect=True
)


def test_timestamps_come_back_aware_in_utc(engine):
    oslo_summer = timezone(timedelta(hours=2))
    written = datetime(2020, 6, 1, 10, 30, tzinfo=oslo_summer)
    with session_scope() as session:
        session.add(
            Plan(
                key="p",
                title="P",
                period_start=date(2020, 1, 1),
                period_end=date(2020, 12, 31),
                created_at=written,
                updated_at=written,
            )
        )
    with session_scope() as session:
        plan = session.exec(select(Plan)).one()
    assert plan.created_at == written
    assert plan.created_at.tzinfo is not None
    assert plan.created_at.utcoffset() == timedelta(0)
    assert plan.created_at.hour == 8
    assert plan.period_start == date(2020, 1, 1) and type(plan.period_start) is date


def test_the_bulk_paths_store_dates_and_timestamps_as_the_orm_does(engine):
    """fast_insert and driver_execute (the reminder run's hot paths) take driver values;
    what they store must read back, and compare in queries, like what the ORM writes: a
    whole-second timestamp included (SQLite compares them as text)."""
    whole_second = datetime(2020, 6, 1, 8, 30, tzinfo=UTC)
    columns = ("key", "title", "period_start", "period_end", "created_at", "updated_at")
    with session_scope() as session:
        connection = session.connection()
        stamp = driver_timestamp(connection, whole_second)
        row = ("p", "P", driver_date(date(2020, 1, 1)), driver_date(date(2020, 12, 31)))
        fast_insert(connection, Plan.__table__, columns, [(*row, stamp, stamp)])
        later = whole_second + timedelta(days=1)
        driver_execute(
            connection,
            update(Plan.__table__)
            .where(Plan.__table__.c.key == bindparam("plan_key"))
            .values(updated_at=bindparam("stamp")),
            {"plan_key": "p", "stamp": driver_timestamp(connection, later)},
        )
    with session_scope() as session:
        plan = session.exec(select(Plan).where(Plan.created_at == whole_second)).one()
        assert plan.period_start == date(2020, 1, 1) and plan.period_end == date(2020, 12, 31)
        assert plan.updated_at == later
        assert session.exec(select(Plan).where(Plan.updated_at > whole_second)).one() == plan


def test_naive_timestamps_are_refused(engine):
    with pytest.raises(Exception, match="naive datetime"), session_scope() as session:
        session.add(
            Plan(
                key="p",
                title="P",
                period_start=date(2020, 1, 1),
                period_end=date(2020, 12, 31),
                created_at=datetime(2020, 1, 1),
                updated_at=datetime.now(UTC),
            )
        )
        session.flush()


def test_database_is_at_the_newest_migration(engine):
    assert current_revision(engine) == head_revision()
    ensure_current(engine)


def test_an_unmigrated_database_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutOfDate, match="run `followup db upgrade`"):
        ensure_current(engine)


def test_sqlite_is_set_up_for_several_writers(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_concurrent_read_then_write_transactions_all_succeed(engine):
    """Deferred read-then-write transactions fail at once on SQLite; ours wait their turn."""
    with session_scope() as session:
        session.add(
            Plan(key="p", title="0", period_start=date(2020, 1, 1), period_end=date(2020, 12, 31))
        )
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(10):
                with session_scope() as session:
                    plan = session.exec(select(Plan)).one()
                    plan.title = str(int(plan.title) + 1)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope() as session:
        title = session.exec(select(Plan)).one().title
    # Every increment counted: no lost update on SQLite (serialised) or PostgreSQL (row lock
    # is not taken here, so PostgreSQL may lose some; the point is that none failed).
    if engine.dialect.name == "sqlite":
        assert title == "40"


def test_foreign_keys_are_enforced(engine):
    with pytest.raises(Exception, match=r"(?i)foreign key"), session_scope() as session:
        session.execute(text("INSERT INTO goal (plan_id, number, title) VALUES (999, 1, 'orphan')"))


def test_the_migrations_build_exactly_the_schema_the_models_declare(database_url):
    """Alembic's autogenerate finds nothing to add or drop: a model change without its
    migration (or the reverse) fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import models  # noqa: F401  (every table registered on the metadata)

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection), SQLModel.metadata
            )
    finally:
        engine.dispose()
    assert differences == []


@ON_POSTGRES
def test_postgresql_plans_queries_for_the_data_they_meet(engine):
    """A reply form's query, prepared while the history is empty, still finds an item's
    latest report through its index once the history holds thousands of reports: no
    generic plan made for an empty table (a scan of the whole history on every page) is
    kept. Nothing is ANALYZEd here, as where autovacuum is off."""
    from models.importer import import_path
    from models.items import ItemKind, ItemRef
    from models.plan import Measure
    from models.replies import items_with_latest

    with session_scope() as session:
        import_path(session, str(BUNDLED_PLAN))
    with session_scope() as session:
        measures = session.exec(select(Measure.id).order_by(Measure.id)).all()
    tokens = [ItemRef(ItemKind.MEASURE, m).token for m in measures[:3]]

    def statusreport_scans(conn) -> int:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return conn.execute(
            text("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'statusreport'")
        ).scalar_one()

    # One connection: psycopg prepares a statement on its 6th run, and PostgreSQL may keep
    # a generic plan from the 6th run of the prepared statement on.
    with session_scope() as session:
        for _ in range(15):
            assert all(i.latest is None for i in items_with_latest(session, tokens).values())
        session.execute(
            text(
                "INSERT INTO statusreport (plan_id, measure_id, status, progress, channel, "
                "submitted_at, submission, item) "
                "SELECT m.plan_id, m.id, 'on_track', g % 101, 'web', now(), "
                "md5(m.id || '-' || g), 'measure:' || m.id "
                "FROM measure m, generate_series(1, 20000 / (SELECT count(*) FROM measure)) g"
            )
        )
        session.execute(text("SELECT pg_stat_force_next_flush()"))
    with session_scope() as session:
        before = statusreport_scans(session.connection())
        items = items_with_latest(session, tokens)
        session.execute(text("SELECT pg_stat_force_next_flush()"))
    with engine.connect() as conn:
        after = statusreport_scans(conn)
    assert all(item.latest is not None for item in items.values())
    assert after == before, f"{after - before} scan(s) of the whole history for one page"


@ON_POSTGRES
def test_a_connection_the_server_dropped_while_idle_is_replaced(engine, monkeypatch):
    """The server restarts or a proxy drops idle connections: the next transaction after
    an idle spell runs on a fresh connection instead of failing."""
    import models.db

    def backend_pid() -> int:
        with session_scope() as session:
            return session.execute(text("SELECT pg_backend_pid()")).scalar_one()

    first = backend_pid()
    with make_engine(engine.url.render_as_string(hide_password=False)).connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    monkeypatch.setattr(models.db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as after an idle spell
    assert backend_pid() != first


@ON_POSTGRES
def test_quick_commits_are_seen_at_once_and_stay_on_their_connection(engine):
    """An outcome committed through quick_commits is seen by another session before the
    block ends (only the wait for the disk is skipped), and the setting leaves with the
    block: the pooled connection commits synchronously again for the next user, even when
    the block failed."""

    def setting(conn) -> str:
        return conn.execute(text("SHOW synchronous_commit")).scalar_one()

    with session_scope() as session:
        session.execute(text("CREATE TABLE outcome_probe (id int PRIMARY KEY)"))
    with quick_commits(engine) as conn:
        with conn.begin():  # as deliver() records an outcome: one statement on its own
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert setting(conn) == "off"
            conn.execute(text("INSERT INTO outcome_probe VALUES (1)"))
        with engine.connect() as other:
            assert other.execute(text("SELECT count(*) FROM outcome_probe")).scalar_one() == 1
    with pytest.raises(RuntimeError), quick_commits(engine) as conn:
        raise RuntimeError("a send went wrong")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid  # reused
        assert setting(conn) == "on"


@ON_POSTGRES
def test_digest_bodies_are_compressed_with_lz4_on_postgresql(engine):
    """The rendered text and HTML of a digest are compressed with lz4 (a third of pglz's
    time for a large run's messages) where the server has it, as this one does."""
    with engine.connect() as conn:
        methods = dict(
            conn.execute(
                text(
                    "SELECT attname, attcompression FROM pg_attribute "
                    "WHERE attrelid = 'digest'::regclass AND attname IN ('text', 'html')"
                )
            ).all()
        )
    assert methods == {"text": "l", "html": "l"}


def test_reads_do_not_wait_for_a_writer(engine):
    """A page that only shows data (read_scope) is answered while another transaction is
    writing; on SQLite it does not queue for the write lock."""
    from models.db import read_scope

    done = threading.Event()

    def read() -> None:
        with read_scope() as session:
            session.exec(select(Plan.id)).all()
        done.set()

    with session_scope() as writer:
        writer.add(
            Plan(
                key="p",
                title="Plan",
                reference="R",
                period_start=date(2020, 1, 1),
                period_end=date(2020, 12, 31),
            )
        )
        writer.flush()  # the writer holds its lock (SQLite: the database's write lock)
        reader = threading.Thread(target=read)
        reader.start()
        assert done.wait(timeout=10), "the read waited for the writer"
    reader.join(timeout=10)


@contextmanager
def blank_database(backend: str, tmp_path) -> Iterator[str]:
    """An empty database with no schema at all, on ``backend``."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    with fresh_postgres_database("followup_migrate") as url:
        yield url.render_as_string(hide_password=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_in_use_upgrades_and_downgrades_without_losing_a_claim(
    backend, tmp_path, monkeypatch
):
    """A database holding a run's claims, digests and deliveries is downgraded to the
    migration before the newest and upgraded again, twice, with every row kept: a claim
    lost in a migration is a reminder sent twice."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from models.importer import import_path
    from notifications import dispatch

    def counts() -> tuple[int, ...]:
        with get_engine().connect() as conn:
            return tuple(
                conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("reminder", "digest", "delivery")
            )

    def migrate(revision: str) -> None:
        config = alembic_config()
        down = revision < current_revision(get_engine())
        with get_engine().begin() as connection:
            config.attributes["connection"] = connection
            if down:
                command.downgrade(config, revision)
            else:
                command.upgrade(config, revision)

    with blank_database(backend, tmp_path) as url:
        monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("FOLLOWUP_DATABASE_URL", url)
        get_settings.cache_clear()
        get_engine.cache_clear()
        try:
            upgrade(get_engine())
            with session_scope() as session:
                import_path(session, str(BUNDLED_PLAN))
            claimed, _ = dispatch.queue_reminders(date(2020, 5, 29))
            kept = counts()
            assert claimed > 0 and kept[0] == claimed
            newest = head_revision()
            before = ScriptDirectory.from_config(alembic_config()).get_revision(newest)
            for revision in (before.down_revision, newest, before.down_revision, newest):
                migrate(revision)
                assert counts() == kept
            assert dispatch.queue_reminders(date(2020, 5, 29)) == (0, 0)  # all still claimed
        finally:
            get_engine().dispose()
            get_settings.cache_clear()
            get_engine.cache_clear()
