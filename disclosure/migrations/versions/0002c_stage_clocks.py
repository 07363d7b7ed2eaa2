"""the due date of the stage each request is in

Revision ID: 0002c
Revises: 0001
Create Date: 2026-11-21 10:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002c"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing requests get their stage due date at their next event.
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_requests_stage_queue", ["state", "stage_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_stage_queue")
        batch_op.drop_column("stage_due_at")
