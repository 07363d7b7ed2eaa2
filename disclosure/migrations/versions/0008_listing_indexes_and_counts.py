"""indexes led by area for every listing and queue; counts of requests kept as they change

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 'closed' written in, as the queries write it, so a generic plan can use the partial indexes.
OPEN = sa.text("state <> 'closed'")


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_filter")
        batch_op.drop_index("ix_requests_queue")
        batch_op.drop_index("ix_requests_stage_queue")
    op.create_index("ix_requests_area", "requests", ["area", "created_at", "id"])
    op.create_index("ix_requests_area_state", "requests", ["area", "state", "created_at", "id"])
    op.create_index("ix_requests_open", "requests", ["area", "created_at", "id"],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index(
        "ix_requests_queue", "requests",
        ["area", sa.text("immediate_risk DESC"), "due_at", "id"],
        postgresql_where=OPEN, sqlite_where=OPEN,
    )
    op.create_index(
        "ix_requests_stage_queue", "requests",
        ["area", "state", sa.text("immediate_risk DESC"), "stage_due_at", "id"],
    )
    op.create_table(
        "request_counts",
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("area", "scheme", "route", "state", "outcome"),
    )
    op.execute(
        "INSERT INTO request_counts (area, scheme, route, state, outcome, requests) "
        "SELECT area, scheme, route, state, COALESCE(outcome, ''), COUNT(*) FROM requests "
        "GROUP BY area, scheme, route, state, COALESCE(outcome, '')"
    )


def downgrade() -> None:
    op.drop_table("request_counts")
    for name in ("ix_requests_stage_queue", "ix_requests_queue", "ix_requests_open",
                 "ix_requests_area_state", "ix_requests_area"):
        op.drop_index(name, table_name="requests")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index("ix_requests_stage_queue", ["state", "stage_due_at"], unique=False)
        batch_op.create_index("ix_requests_queue", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_requests_filter", ["scheme", "route", "area", "id"],
                              unique=False)
