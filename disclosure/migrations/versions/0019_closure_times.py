"""each closure's times: from receipt or the reopening before to the closing, by area

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-22 06:00:00.000000

A report counts an area's closures of two years, how long each took and whether it was within
the limit. Read from `closures`, each one needed its request (for the area, scheme, route,
division, receipt and due date), so a report read every closure of those years in every area
and the area's active requests, three times over. The workflow now writes a `closure_times` row
with every closing (`models.ClosureTime`), holding what a report reads and led by the area and
when it closed. For the closures held before, the rows are made from the closures, their
requests and their closing events in one statement. The due date a closure is judged against is
the one the request closed with; for a closure reopened before this migration the request's due
date then was not kept, and the request's current one stands for it, as reports read it until
now, so a figure published before does not change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "closure_times",
        sa.Column("request_id", Key, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("division", sa.String(64), nullable=True),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "seq"),
    )
    op.execute("""
        INSERT INTO closure_times (request_id, seq, area, scheme, route, division, event,
                                   outcome, started_at, closed_at, recorded_at, due_at)
        SELECT c.request_id, c.seq, r.area, r.scheme, r.route, r.division, c.event, c.outcome,
               coalesce((SELECT max(p.reopened_at) FROM closures p
                         WHERE p.request_id = c.request_id AND p.reopened_seq IS NOT NULL
                           AND p.seq < c.seq), r.received_at),
               c.closed_at, e.recorded_at, r.due_at
        FROM closures c
        JOIN requests r ON r.id = c.request_id
        JOIN events e ON e.request_id = c.request_id AND e.seq = c.seq
    """)
    op.create_index("ix_closure_times_closed", "closure_times", ["area", "closed_at"])


def downgrade() -> None:
    op.drop_index("ix_closure_times_closed", table_name="closure_times")
    op.drop_table("closure_times")
