"""Helpers for asserting what is in the database."""

from sqlalchemy import MetaData, select
from sqlalchemy.engine import Engine

VOLATILE = {"created_at", "updated_at", "changed_at", "opened_at", "submitted_at"}


def snapshot(engine: Engine, *, volatile: bool = True) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: two equal snapshots mean nothing changed."""
    meta = MetaData()
    meta.reflect(engine)
    out = {}
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            columns = [c for c in table.columns if volatile or c.name not in VOLATILE]
            rows = conn.execute(select(*columns)).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out
