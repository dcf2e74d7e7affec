"""Errors a user can act on, turned into one clear line (or one line per problem)."""

from alembic.util.exc import CommandError
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from models.db import DatabaseUnreachable, safe_url
from models.migrate import SchemaOutOfDate
from models.planfile import PlanFileError
from models.queries import NotFound

USER_ERRORS = (PlanFileError, NotFound, DatabaseUnreachable, SchemaOutOfDate, ValueError)


def describe(exc: BaseException, database_url: str) -> str | None:
    """The message for an error the user can fix, or None for a bug (shown as a traceback)."""
    if isinstance(exc, DBAPIError):
        orig = str(getattr(exc, "orig", exc)).strip().splitlines()
        return f"cannot use the database at {safe_url(database_url)}: {orig[0] if orig else exc}"
    if isinstance(exc, ArgumentError | NoSuchModuleError):
        return f"FOLLOWUP_DATABASE_URL is not a usable database URL: {exc}"
    if isinstance(exc, USER_ERRORS):
        return str(exc)
    if isinstance(exc, CommandError):  # alembic's: e.g. a revision that does not exist
        return f"migration: {exc}"
    return None
