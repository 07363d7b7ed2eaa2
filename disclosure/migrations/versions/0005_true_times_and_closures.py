"""events say when they were recorded apart from when they happened; closures are kept

Revision ID: 0005
Revises: 0008
Create Date: 2026-11-21 16:45:00.000000

Until now an event's `occurred_at` was when it was entered, so existing events get that as their
`recorded_at` too. Every closing so far becomes a `closures` row: the outcome of a request that
is closed now is its own; an earlier closure's is worked out from its closing event, as the
service did at the time (unknown only where that event's payload has been erased). Reopenings
so far had no category.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_FINDINGS = {
    "out_of_scope": "not_progressed_criteria",
    "duplicate": "not_progressed_duplicate",
    "referred_safeguarding": "referred_safeguarding",
}
_BY_EVENT = {
    "record_meeting": "identity_not_verified",
    "take_immediate_action": "immediate_action",
    "withdraw": "withdrawn",
    "close_no_engagement": "no_engagement",
}

events = sa.table(
    "events",
    sa.column("id", Key), sa.column("request_id", Key), sa.column("seq", sa.Integer),
    sa.column("event", sa.String), sa.column("to_state", sa.String),
    sa.column("actor", sa.String), sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("recorded_at", sa.DateTime(timezone=True)), sa.column("payload", sa.JSON),
)
requests = sa.table(
    "requests", sa.column("id", Key), sa.column("state", sa.String),
    sa.column("outcome", sa.String),
)
parties = sa.table("parties", sa.column("id", Key), sa.column("role", sa.String))


def _outcome(event: str, payload: dict[str, Any] | None, reason: str | None,
             roles: dict[int, str]) -> str | None:
    """The outcome the service gave a closing event (outcomes.outcome_of at revision 0003)."""
    if event in _BY_EVENT:
        return _BY_EVENT[event]
    if payload is None:
        return None
    if event == "complete_initial_checks":
        return _FINDINGS.get(payload.get("finding", ""))
    if event == "record_decision":
        return payload.get("no_disclosure_reason")
    if event == "record_notice":
        return reason
    if event == "record_delivery":
        role = roles.get(payload.get("recipient_party_id", 0))
        return "disclosed_to_person_at_risk" if role == "person_at_risk" else "disclosed_to_other"
    return None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(events.update().values(recorded_at=events.c.occurred_at))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column(
            "recorded_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    closures = op.create_table(
        "closures",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("request_id", Key, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=False),
        sa.Column("reopened_seq", sa.Integer(), nullable=True),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened_by", sa.String(length=64), nullable=True),
        sa.Column("reopen_category", sa.String(length=40), nullable=True),
        sa.Column("reopen_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "seq", name="uq_closures_request_seq"),
    )
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closures_request_id"), ["request_id"], unique=False)
    _backfill(op.get_bind(), closures)


def _backfill(conn: sa.Connection, closures: sa.Table) -> None:
    """One closures row per closing so far, request by request in trail order."""
    current = {
        rid: outcome
        for rid, outcome in conn.execute(
            sa.select(requests.c.id, requests.c.outcome).where(requests.c.state == "closed")
        )
    }
    roles = {pid: role for pid, role in conn.execute(sa.select(parties.c.id, parties.c.role))}
    trail = conn.execute(
        sa.select(
            events.c.request_id, events.c.seq, events.c.event, events.c.to_state,
            events.c.actor, events.c.occurred_at, events.c.payload,
        )
        .where(sa.or_(events.c.to_state == "closed", events.c.event.in_(
            ("reopen", "record_decision"))))
        .order_by(events.c.request_id, events.c.seq)
    )
    rows: list[dict[str, Any]] = []
    last: dict[int, dict[str, Any]] = {}
    reason: dict[int, str | None] = {}
    for rid, seq, event, to_state, actor, at, payload in trail:
        if event == "record_decision":
            reason[rid] = (payload or {}).get("no_disclosure_reason")
        if to_state == "closed":
            last[rid] = {
                "request_id": rid, "seq": seq, "event": event, "closed_at": at,
                "closed_by": actor,
                "outcome": _outcome(event, payload, reason.get(rid), roles),
            }
            rows.append(last[rid])
        elif event == "reopen" and rid in last:
            last.pop(rid).update(
                reopened_seq=seq, reopened_at=at, reopened_by=actor,
                reopen_reason=(payload or {}).get("reason"),
            )
    for row in rows:
        row.setdefault("reopened_seq", None)
        row.setdefault("reopened_at", None)
        row.setdefault("reopened_by", None)
        row.setdefault("reopen_reason", None)
        row["reopen_category"] = None
    for rid, row in last.items():
        if rid in current:
            row["outcome"] = current[rid]
    if rows:
        conn.execute(closures.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closures_request_id"))
    op.drop_table("closures")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("recorded_at")
