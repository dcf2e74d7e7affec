"""Test fixtures: databases on SQLite and PostgreSQL, settings pointing at them, and one
Prefect test server per session for the tests that need the engine."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Before anything imports prefect: its state (results, transaction records) lives here.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="followup-prefect-home-")
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# The app's settings come from each test; only the test harness's own switches stay.
HARNESS = {
    "FOLLOWUP_TEST_POSTGRES_URL",
    "FOLLOWUP_REQUIRE_POSTGRES",
    "FOLLOWUP_REQUIRE_BROWSER",
    "FOLLOWUP_CHROMIUM",
}
for name in [n for n in os.environ if n.startswith("FOLLOWUP_") and n not in HARNESS]:
    del os.environ[name]

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import URL, Engine, make_url  # noqa: E402

from models.db import get_engine, make_engine  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.settings import get_settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BUNDLED_PLAN = REPO / "data" / "opptrappingsplan-barn-unge.yaml"
POSTGRES_URL = os.environ.get("FOLLOWUP_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test instead of migrating every time."""
    path = tmp_path_factory.mktemp("template") / "followup.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[URL]:
    """A new, empty database on the test PostgreSQL server, dropped afterwards; its URL."""
    if not POSTGRES_URL:
        pytest.fail("FOLLOWUP_TEST_POSTGRES_URL is not set")
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # CI must fail, not skip, when PostgreSQL is unreachable
        pytest.fail(f"PostgreSQL at {admin_url.render_as_string()} is unreachable: {exc}")
    try:
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once, dropped at the end."""
    with fresh_postgres_database("followup_test") as url:
        url = url.render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "followup.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def settings_env(monkeypatch, tmp_path, database_url) -> Path:
    """Point the app's settings (and so its engine) at the test database and a data folder."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", database_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield data_dir
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def engine(settings_env) -> Engine:
    """The app's engine on the test database."""
    return get_engine()


@pytest.fixture(scope="session")
def prefect_server():
    """One Prefect test server for the whole session (it takes ~20 s to start)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    # No flow run heartbeats: a run's heartbeat thread sleeps a second at a time and is
    # joined when the run ends, which made every short flow run here take a second.
    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@pytest.fixture
def without_automation(prefect_server):
    """The session's Prefect server with followup's automation for crashed runs removed."""
    from prefect.client.orchestration import get_client

    from flows.automations import UNRESPONSIVE_RUNS

    with get_client(sync_client=True) as client:
        for automation in client.read_automations_by_name(UNRESPONSIVE_RUNS):
            client.delete_automation(automation.id)
