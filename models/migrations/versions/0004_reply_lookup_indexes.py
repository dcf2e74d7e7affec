"""indexes for the reply app's lookups

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 04:30:00.000000

Indexes only. An item's latest report is ``max(id)`` over its reports: with (measure_id, id)
and (assignment_id, id) that is one index probe, not a read of the item's whole history
(which grows with every reply). A person's items in a round are found by (round_id,
contact_id).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_statusreport_measure_id_id", "statusreport", ["measure_id", "id"]),
    ("ix_statusreport_assignment_id_id", "statusreport", ["assignment_id", "id"]),
    ("ix_rounditem_round_id_contact_id", "rounditem", ["round_id", "contact_id"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
