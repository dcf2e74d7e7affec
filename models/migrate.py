"""Schema migrations through Alembic. The app never creates tables itself: it refuses to
work on a database whose schema is not at the newest migration."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError

from models.db import DatabaseUnreachable, safe_url

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database's schema is not at the newest migration."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        raise DatabaseUnreachable(
            f"cannot reach the database at {safe_url(str(engine.url))}: {_first_line(exc)}"
        ) from exc


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply migrations up to ``revision``; returns (before, after)."""
    before = current_revision(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current_revision(engine) or ""


def ensure_exists(url: str | URL) -> None:
    """Raise SchemaOutOfDate for a SQLite file that does not exist, without creating it
    (connecting would leave an empty one behind)."""
    parsed = make_url(url)
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(file).is_file():
        raise SchemaOutOfDate(f"no database at {safe_url(str(url))}: run `followup db upgrade`")


def ensure_current(engine: Engine) -> None:
    """Raise SchemaOutOfDate unless the database exists and is at the newest migration."""
    ensure_exists(engine.url)
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database at {safe_url(str(engine.url))} is at migration {current or 'none'}, "
            f"the code needs {head}: run `followup db upgrade`"
        )


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
