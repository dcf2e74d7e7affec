"""Errors a user can act on, turned into one clear line (or one line per problem)."""

from alembic.util.exc import CommandError
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from models.db import DatabaseUnreachable, safe_url
from models.migrate import SchemaOutOfDate
from models.planfile import PlanFileError
from models.queries import NotFound

USER_ERRORS = (PlanFileError, NotFound, DatabaseUnreachable, SchemaOutOfDate, ValueError)


def settings_problems(exc: ValidationError) -> list[str]:
    """A settings error as one line per variable: ``FOLLOWUP_TIMEZONE: unknown time zone``."""
    lines = []
    for e in exc.errors():
        name = "FOLLOWUP_" + "_".join(str(p) for p in e["loc"]).upper()
        lines.append(f"{name}: {e['msg'].removeprefix('Value error, ')}")
    return lines


def describe(exc: BaseException, database_url: str | None) -> str | None:
    """The message for an error the user can fix, or None for a bug (shown as a traceback)."""
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return "\n".join(settings_problems(exc))
    if isinstance(exc, DBAPIError):
        orig = str(getattr(exc, "orig", exc)).strip().splitlines()
        where = safe_url(database_url) if database_url else "FOLLOWUP_DATABASE_URL"
        return f"cannot use the database at {where}: {orig[0] if orig else exc}"
    if isinstance(exc, ArgumentError | NoSuchModuleError):
        return f"FOLLOWUP_DATABASE_URL is not a usable database URL: {exc}"
    if isinstance(exc, USER_ERRORS):
        return str(exc)
    if isinstance(exc, CommandError):  # alembic's: e.g. a revision that does not exist
        return f"migration: {exc}"
    return None
