"""The engine and sessions, made in one place.

SQLite is set up for several writer threads: WAL, a busy timeout, foreign keys, and
``BEGIN IMMEDIATE`` so a write transaction takes the lock up front instead of failing
half-way with "database is locked".
"""

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import islice

from sqlalchemy import Executable, Table, event, func, select
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlmodel import Session, create_engine

from models.settings import get_settings

# Connections a process keeps open: the reply app's request threads each hold one (see
# followup.web.app) and a flow's parallel tasks a few. Connections beyond the kept ones
# (overflow) are closed when returned, so a pool smaller than its steady use would open a
# new connection on almost every request.
POOL_SIZE = 10
PING_AFTER_IDLE_SECONDS = 5.0  # see _ping_when_idle
READ_ONLY = "followup_read_only"  # execution option of read_scope


class DatabaseUnreachable(RuntimeError):
    """The database at the configured URL cannot be reached or opened."""


def safe_url(url: str) -> str:
    """The URL with any password masked, fit for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created and their pragmas set."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        options = {}
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            options["pool_size"] = POOL_SIZE  # a file: pooled like a server's connections
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **options
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    # Each statement planned for the data it meets: psycopg prepares a statement run a few
    # times, and PostgreSQL would then keep one generic plan for it, made perhaps while a
    # table was nearly empty, until an ANALYZE (never, where autovacuum is off). Seen: the
    # reply form's query kept scanning the whole history, 11 ms per page at 21,000 reports
    # instead of 0.1 ms. (plan_cache_mode=force_custom_plan would also replan the foreign
    # key checks of every inserted row: 3.6 s more for 138,000 reminder claims.)
    engine = create_engine(url, pool_size=POOL_SIZE, connect_args={"prepare_threshold": None})
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection before use when it has been idle for a while, and replace
    it if the server has dropped it (a restart, a proxy's idle timeout).

    SQLAlchemy's pool_pre_ping tests it on every checkout: one more round trip per request
    of the reply app, to the server that is busiest then. A connection returned moments
    ago is used as it is; if the server went away in between, that one transaction fails
    whole (nothing half-written) and the pool is renewed."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _stamp(dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"connection dropped while idle: {exc}") from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # A read_scope reads in a plain (deferred) transaction: no write lock.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(get_settings().resolved_database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: committed whole when the block ends, rolled back on any error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session for reading only, for pages that only show data: on PostgreSQL each
    statement on its own (no BEGIN and COMMIT round trips; at READ COMMITTED each statement
    sees the data as of its own start anyway), on SQLite without taking the write lock."""
    with Session(_read_only(engine or get_engine()), expire_on_commit=False) as session:
        yield session


@lru_cache(maxsize=8)
def _read_only(engine: Engine) -> Engine:
    """The engine with read_scope's options, made once per engine, not on every page."""
    return statementwise(engine).execution_options(**{READ_ONLY: True})


@lru_cache(maxsize=8)
def statementwise(engine: Engine) -> Engine:
    """The engine for work done one statement at a time, each whole on its own (a single
    statement is atomic): on PostgreSQL in AUTOCOMMIT, one round trip per statement
    instead of three (BEGIN, the statement, COMMIT); on SQLite as it is (a local commit
    costs no round trip, and BEGIN IMMEDIATE keeps writers queueing for the lock).
    ``with connection.begin():`` around one statement is right on both."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


@contextmanager
def quick_commits(engine: Engine) -> Iterator[Connection]:
    """A statementwise connection whose commits on PostgreSQL do not wait for the
    write-ahead log to reach the disk (``synchronous_commit`` off), for recording what
    became of a message already sent, one commit per message.

    Such a commit is visible to every other session at once, like any other; only a crash
    of the database server itself within a fraction of a second can undo it, and then the
    message is sent again after its lease: twice, never lost, as after a crash between the
    send and its record. Its wait for the disk was half the time of recording an outcome."""
    with statementwise(engine).connect() as connection:
        if engine.dialect.name != "postgresql":
            yield connection
            return
        with connection.begin():
            connection.exec_driver_sql("SET synchronous_commit TO off")
        try:
            yield connection
        finally:
            try:  # the setting is the session's: the pooled connection must not keep it
                connection.rollback()
                with connection.begin():
                    connection.exec_driver_sql("RESET synchronous_commit")
            except DBAPIError:
                connection.invalidate()


def fast_insert(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple]
) -> None:
    """A bulk insert in the caller's transaction that skips SQLAlchemy's per-row type
    processing: ``COPY`` on PostgreSQL, multi-row ``VALUES`` on SQLite (for the hundred
    thousand claims of a large run). Rows are tuples in the order of ``columns`` and must
    hold plain driver values: text, numbers, ``driver_date`` and ``driver_timestamp``.
    Constraints hold as for any insert: a duplicate fails the statement (and the caller's
    transaction).

    ``rows`` may be made as they are read: PostgreSQL stores them meanwhile (its work on
    the other core), and whatever makes them (rendering messages) runs alongside."""
    if isinstance(rows, Sequence) and not rows:
        return
    quote = connection.dialect.identifier_preparer.quote
    # table.c[...] refuses a name the table does not have before any SQL is sent.
    target = f"{quote(table.name)} ({', '.join(quote(table.c[n].name) for n in columns)})"
    dbapi_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.cursor()
    try:
        if connection.dialect.name == "postgresql":
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        elif connection.dialect.name == "sqlite":
            one = f"({', '.join('?' * len(columns))})"
            per = max(1, _sqlite_variables(cursor.connection) // len(columns))
            rows = iter(rows)
            while chunk := list(islice(rows, per)):
                cursor.execute(
                    f"INSERT INTO {target} VALUES {', '.join([one] * len(chunk))}",
                    [value for row in chunk for value in row],
                )
        else:
            raise NotImplementedError(f"fast_insert on {connection.dialect.name}")
    except dbapi_error as exc:  # as SQLAlchemy would raise it: IntegrityError for a duplicate
        raise DBAPIError.instance(f"INSERT INTO {target}", None, exc, dbapi_error) from exc
    finally:
        cursor.close()


def reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` new primary keys of ``table``, for rows written later in the caller's
    (write) transaction with their ids given: so that rows pointing at them can be
    written first. PostgreSQL draws them from the table's sequence; on SQLite the
    transaction holds the write lock (BEGIN IMMEDIATE), so the ids after the largest
    one are free until it ends."""
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        drawn = connection.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence(%(table)s, 'id')) "
            "FROM generate_series(1, %(count)s)",
            {"table": table.name, "count": count},
        )
        return [row[0] for row in drawn]
    top = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(top + 1, top + 1 + count))


def driver_execute(connection: Connection, statement: Executable, params: dict) -> None:
    """Run ``statement`` with ``params`` straight on the driver's cursor, in the caller's
    transaction: compiled once per dialect and skipping SQLAlchemy's per-execution work
    (about 0.5 ms, more than writing a message to the outbox). For a statement run once
    per message; ``params`` hold driver values (``driver_date``, ``driver_timestamp``,
    plain text for enums)."""
    sql, order = _compiled(statement, connection.dialect)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params if order is None else [params[name] for name in order])
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, connection.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


@lru_cache(maxsize=64)
def _compiled(statement: Executable, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    compiled = statement.compile(dialect=dialect)
    return compiled.string, (tuple(compiled.positiontup) if compiled.positional else None)


def _sqlite_variables(dbapi_connection) -> int:
    """How many bound values one statement may hold in this SQLite (999 before 3.32,
    32,766 or more after), capped so that a statement stays a reasonable size."""
    import sqlite3

    return min(dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 30_000)


def driver_date(day: date) -> str:
    """A date as both drivers take it for Date columns: ISO text (SQLite stores it so; for
    PostgreSQL's COPY text is what it reads, at half the cost of a date object)."""
    return day.isoformat()


def driver_timestamp(connection: Connection, moment: datetime):
    """A UTC timestamp as the driver stores it for UTCDateTime columns (see models.types)."""
    moment = moment.astimezone(UTC)
    if connection.dialect.name == "sqlite":
        # As SQLAlchemy's SQLite DateTime writes it, microseconds always: text compares.
        return moment.replace(tzinfo=None).isoformat(" ", timespec="microseconds")
    return moment
