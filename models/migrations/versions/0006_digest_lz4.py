"""digests' text and HTML compressed with lz4 on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 18:00:00.000000

A large run stores a few thousand rendered messages of 10-40 kB each in one transaction;
PostgreSQL compresses them with pglz by default, a second of the database's time for a
run of 2,000 digests that the run waits for. lz4 takes a third of that (it compresses
a little less tightly). Only new values are compressed so; a server built without lz4 (or
older than 14) keeps pglz, and nothing else changes. SQLite has no such setting.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("text", "html")


def _set_compression(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    statements = " ".join(
        f"EXECUTE 'ALTER TABLE digest ALTER COLUMN {column} SET COMPRESSION {method}';"
        for column in COLUMNS
    )
    # Dynamic SQL inside a block: a server that lacks lz4 (or the clause) keeps its default.
    op.execute(
        f"DO $$ BEGIN {statements} EXCEPTION WHEN others THEN "
        f"RAISE NOTICE 'digest compression left as it was: %', SQLERRM; END $$"
    )


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("default")
