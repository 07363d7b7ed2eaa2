"""MAPP panels: nominals and their trail, meetings, action points; requests a meeting agreed

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21 19:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
At = sa.DateTime(timezone=True)


def _trail_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("occurred_at", At, nullable=False),
        sa.Column("recorded_at", At, nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "nominals",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("category", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("lead_agency", sa.String(24), nullable=False),
        sa.Column("rosh", sa.String(16), nullable=False),
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("created_at", At, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", At, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_event_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("area", "reference", name="uq_nominals_area_reference"),
    )
    op.create_table(
        "meetings",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("nominal_id", Key, sa.ForeignKey("nominals.id"), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("held_at", At, nullable=False),
        sa.Column("chair", sa.String(200), nullable=False),
        sa.Column("chair_rank", sa.String(40), nullable=False),
        sa.Column("attendees", sa.JSON(), nullable=False),
        sa.Column("confidentiality_statement_read", sa.Boolean(), nullable=False),
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("review_due_at", At, nullable=True),
        sa.Column("review_policy", sa.String(32), nullable=False),
        sa.Column("held_late", sa.Boolean(), nullable=False),
        sa.Column("consideration", sa.String(16), nullable=True),
        sa.Column("no_disclosure_rationale", sa.Text(), nullable=True),
        sa.Column("representations_sought", sa.Boolean(), nullable=True),
        sa.Column("representations_not_sought_reason", sa.Text(), nullable=True),
        sa.Column("representations", sa.Text(), nullable=True),
        sa.Column("created_at", At, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", At, nullable=False),
        sa.Column("finalised_at", At, nullable=True),
        sa.Column("finalised_by", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_meetings_nominal_id", "meetings", ["nominal_id"])
    op.create_index("ix_meetings_area", "meetings", ["area", "held_at", "id"])
    op.create_table(
        "nominal_events",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("nominal_id", Key, sa.ForeignKey("nominals.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("meeting_id", Key, sa.ForeignKey("meetings.id"), nullable=True),
        *_trail_columns(),
        sa.Column("category", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("rosh", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("payload_salt", sa.String(32), nullable=True),
        sa.Column("payload_digest", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nominal_id", "seq", name="uq_nominal_events_nominal_seq"),
    )
    op.create_index("ix_nominal_events_effective", "nominal_events", ["nominal_id", "occurred_at"])
    op.create_index("ix_nominal_events_meeting_id", "nominal_events", ["meeting_id"])
    op.create_table(
        "nominal_views",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("nominal_id", Key, sa.ForeignKey("nominals.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("viewer", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(100), nullable=False),
        sa.Column("viewed_at", At, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nominal_id", "seq", name="uq_nominal_views_nominal_seq"),
    )
    op.create_table(
        "action_points",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("meeting_id", Key, sa.ForeignKey("meetings.id"), nullable=False),
        sa.Column("nominal_id", Key, sa.ForeignKey("nominals.id"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("owner_agency", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("due_at", At, nullable=False),
        sa.Column("added_at", At, nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_action_points_meeting_id", "action_points", ["meeting_id"])
    # Nullable columns: existing rows' seals leave a NULL out, so they stay valid.
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("meeting_id", Key, nullable=True))
        batch.create_foreign_key("fk_requests_meeting_id", "meetings", ["meeting_id"], ["id"])
        batch.create_index("ix_requests_meeting_id", ["meeting_id"])
    with op.batch_alter_table("decision_recipients") as batch:
        batch.add_column(sa.Column("discloser_agency", sa.String(40), nullable=True))
    with op.batch_alter_table("seals") as batch:
        batch.alter_column("request_id", existing_type=Key, nullable=True)
        batch.add_column(sa.Column("nominal_id", Key, nullable=True))
        batch.create_index("ix_seals_nominal_id", ["nominal_id"])


def downgrade() -> None:
    op.execute("DELETE FROM seals WHERE request_id IS NULL")
    with op.batch_alter_table("seals") as batch:
        batch.drop_index("ix_seals_nominal_id")
        batch.drop_column("nominal_id")
        batch.alter_column("request_id", existing_type=Key, nullable=False)
    with op.batch_alter_table("decision_recipients") as batch:
        batch.drop_column("discloser_agency")
    with op.batch_alter_table("requests") as batch:
        batch.drop_index("ix_requests_meeting_id")
        batch.drop_constraint("fk_requests_meeting_id", type_="foreignkey")
        batch.drop_column("meeting_id")
    op.drop_index("ix_action_points_meeting_id", table_name="action_points")
    op.drop_table("action_points")
    op.drop_table("nominal_views")
    op.drop_index("ix_nominal_events_meeting_id", table_name="nominal_events")
    op.drop_index("ix_nominal_events_effective", table_name="nominal_events")
    op.drop_table("nominal_events")
    op.drop_index("ix_meetings_area", table_name="meetings")
    op.drop_index("ix_meetings_nominal_id", table_name="meetings")
    op.drop_table("meetings")
    op.drop_table("nominals")
