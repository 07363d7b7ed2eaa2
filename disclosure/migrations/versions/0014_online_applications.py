"""the public form's rate limits: when applications came in, and a digest of where from

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-21 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "online_applications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("source_digest", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_online_applications_source", "online_applications",
                    ["source_digest", "submitted_at"])
    op.create_index("ix_online_applications_submitted_at", "online_applications",
                    ["submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_online_applications_submitted_at", table_name="online_applications")
    op.drop_index("ix_online_applications_source", table_name="online_applications")
    op.drop_table("online_applications")
