"""a keyed trail: the key id of every event and view, and a seal for every casework row

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-21 16:40:00

Rows written before this revision keep a NULL key id and no seal; `disclosure audit verify`
names them until `disclosure audit reseal` (run once, at the upgrade) has keyed them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
    with op.batch_alter_table("views") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
    op.create_table(
        "seals",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=False, nullable=False),
        sa.Column("request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("table_name", "row_id"),
    )
    op.create_index("ix_seals_request_id", "seals", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_seals_request_id", table_name="seals")
    op.drop_table("seals")
    with op.batch_alter_table("views") as batch:
        batch.drop_column("key_id")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("key_id")
