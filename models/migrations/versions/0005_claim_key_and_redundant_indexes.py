"""one foreign key per reminder claim; redundant single-column indexes dropped

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:00:00.000000

A claim's plan and person are those of the digest that carries it: one foreign key on
(digest_id, plan_id, contact_id) to the digest replaces the three on each column (each
checked for every claim stored: half the time of storing a large run's claims). It is
checked at commit: a run stores its claims while it renders the digests, and the digests
after. Claims are looked up by plan and run date, so (plan_id, as_of) and the key's own
index replace the single-column indexes.

The single-column indexes that 0004's (measure_id, id), (assignment_id, id) and
(round_id, contact_id) begin with are dropped too: redundant, and each costs every insert.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's foreign keys have no names: reflected for the batch copy, they get the names
# PostgreSQL gave them, so that one migration drops them on both.
NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}
SINGLE = ("plan_id", "contact_id", "digest_id")
REDUNDANT = [
    ("ix_statusreport_measure_id", "statusreport", ["measure_id"]),
    ("ix_statusreport_assignment_id", "statusreport", ["assignment_id"]),
    ("ix_rounditem_round_id", "rounditem", ["round_id"]),
]


def upgrade() -> None:
    for name, table, _ in REDUNDANT:
        # if_exists: databases made with a development copy of 0004 that dropped them.
        op.drop_index(name, table_name=table, if_exists=True)
    # An index, not a constraint: on SQLite a new constraint would copy the digest table.
    op.create_index("uq_digest_recipient", "digest", ["id", "plan_id", "contact_id"], unique=True)
    with op.batch_alter_table("reminder", naming_convention=NAMES) as batch:
        for column in SINGLE:
            batch.drop_constraint(f"reminder_{column}_fkey", type_="foreignkey")
        batch.drop_index("ix_reminder_plan_id")
        batch.drop_index("ix_reminder_contact_id")
        batch.drop_index("ix_reminder_digest_id")
        batch.alter_column("digest_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_reminder_digest",
            "digest",
            ["digest_id", "plan_id", "contact_id"],
            ["id", "plan_id", "contact_id"],
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        )
        batch.create_index("ix_reminder_digest", ["digest_id", "plan_id", "contact_id"])
        batch.create_index("ix_reminder_plan_id_as_of", ["plan_id", "as_of"])


def downgrade() -> None:
    with op.batch_alter_table("reminder", naming_convention=NAMES) as batch:
        batch.drop_index("ix_reminder_plan_id_as_of")
        batch.drop_index("ix_reminder_digest")
        batch.drop_constraint("fk_reminder_digest", type_="foreignkey")
        batch.alter_column("digest_id", existing_type=sa.Integer(), nullable=True)
        for column, target in zip(SINGLE, ("plan", "contact", "digest"), strict=True):
            batch.create_foreign_key(
                f"reminder_{column}_fkey", target, [column], ["id"], ondelete="CASCADE"
            )
        batch.create_index("ix_reminder_contact_id", ["contact_id"])
        batch.create_index("ix_reminder_digest_id", ["digest_id"])
        batch.create_index("ix_reminder_plan_id", ["plan_id"])
    op.drop_index("uq_digest_recipient", table_name="digest")
    for name, table, columns in REDUNDANT:
        op.create_index(name, table, columns, unique=False)
