"""each stage's times: when a request entered each state and left it, and the stage's due date

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-21 23:00:00.000000

The workflow now writes a `stage_times` row with every event that moves a request out of a
state (`models.StageTime`). For the requests held before, the rows are made from the trail in
one statement: each event that changed the state paired with the one before it that did. The
due date of each stage is the one the policy sets it (as loaded now, with the force's override
file), counted from when the stage was entered as a request's clock counts it: elapsed hours
from that moment, or to the end of a London day for a limit in calendar or working days. The
days are worked out once per London day and limit by the clock's own `add_limit`, in a table
the statement reads, so no row goes through Python.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from alembic import op

from disclosure.clocks import add_limit
from disclosure.policy import LONDON, SCHEME_ROUTES, PolicySettings, load_policy_book
from disclosure.settings import Settings
from disclosure.timeliness import STATE_OF_STAGE

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_meta = sa.MetaData()
# What the policy sets each stage, per policy version and route: `hours` for a limit in
# hours, else one row per London day in `day_dues`.
targets = sa.Table(
    "stage_targets_0016", _meta,
    sa.Column("policy_version", sa.String(32)), sa.Column("route", sa.String(16)),
    sa.Column("state", sa.String(32)), sa.Column("hours", sa.Integer()),
    prefixes=["TEMPORARY"],
)
day_dues = sa.Table(
    "stage_day_dues_0016", _meta,
    sa.Column("policy_version", sa.String(32)), sa.Column("route", sa.String(16)),
    sa.Column("state", sa.String(32)), sa.Column("starts", sa.DateTime(timezone=True)),
    sa.Column("due_at", sa.DateTime(timezone=True)),
    sa.Index("ix_stage_day_dues_0016", "policy_version", "route", "state", "starts"),
    prefixes=["TEMPORARY"],
)
requests = sa.table("requests", sa.column("policy_version", sa.String),
                    sa.column("received_at", sa.DateTime(timezone=True)))


def _midnight(day: datetime) -> datetime:
    return datetime.combine(day.date(), time(), tzinfo=LONDON).astimezone(UTC)


def _targets(policy: PolicySettings, since: dict[str, datetime], until: datetime) -> tuple[
    list[dict[str, object]], list[dict[str, object]]
]:
    """The hour targets, and each London day's due date for the day targets, of the policy
    versions requests were received under (`since`: the first receipt under each)."""
    hours: list[dict[str, object]] = []
    days: list[dict[str, object]] = []
    for version in policy.book.versions:
        if version.code not in since:
            continue
        for route in SCHEME_ROUTES[version.scheme]:
            for stage, limit in version.limits(route)[1].items():
                key = {"policy_version": version.code, "route": route,
                       "state": STATE_OF_STAGE[stage]}
                if limit.unit == "hours":
                    hours.append(key | {"hours": limit.amount})
                    continue
                hours.append(key | {"hours": None})
                day = since[version.code].astimezone(LONDON)
                while _midnight(day) <= until:
                    starts = _midnight(day)
                    days.append(key | {"starts": starts, "due_at": add_limit(
                        starts, limit, nation=policy.nation).due_at})
                    day += timedelta(days=1)
    return hours, days


def upgrade() -> None:
    op.create_table(
        "stage_times",
        sa.Column("request_id", Key, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "seq"),
    )
    conn = op.get_bind()
    postgresql = conn.dialect.name == "postgresql"
    settings = Settings()
    policy = load_policy_book(settings.policy_file)
    # SQLite gives the times back without their zone: they are UTC.
    since = {code: at.replace(tzinfo=UTC) if at.tzinfo is None else at
             for code, at in conn.execute(
                 sa.select(requests.c.policy_version, sa.func.min(requests.c.received_at))
                 .group_by(requests.c.policy_version)).all()}
    hours, days = _targets(policy, since, datetime.now(UTC) + timedelta(days=1))
    _meta.create_all(conn)
    if hours:
        conn.execute(targets.insert(), hours)
    if days:
        conn.execute(day_dues.insert(), days)
    if postgresql:
        # The pairing sorts every state change of the trail: let it sort in memory.
        conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
    plus_hours = (
        "c.entered + make_interval(hours => t.hours)" if postgresql else
        "strftime('%Y-%m-%d %H:%M:%f', c.entered, '+' || t.hours || ' hours') || '000'"
    )
    conn.execute(sa.text(f"""
        INSERT INTO stage_times (request_id, seq, area, scheme, route, state, entered_at,
                                 left_at, recorded_at, due_at)
        SELECT c.request_id, c.seq, r.area, r.scheme, r.route, c.from_state, c.entered,
               c.occurred_at, c.recorded_at,
               CASE WHEN t.hours IS NOT NULL THEN {plus_hours}
                    WHEN t.state IS NOT NULL THEN (
                      SELECT d.due_at FROM stage_day_dues_0016 d
                      WHERE d.policy_version = t.policy_version AND d.route = t.route
                        AND d.state = t.state AND d.starts <= c.entered
                      ORDER BY d.starts DESC LIMIT 1) END
        FROM (SELECT e.request_id, e.seq, e.from_state, e.occurred_at, e.recorded_at,
                     lag(e.occurred_at) OVER (PARTITION BY e.request_id
                                              ORDER BY e.seq) AS entered
              FROM events e
              WHERE e.from_state IS NULL OR e.from_state <> e.to_state) c
        JOIN requests r ON r.id = c.request_id
        LEFT JOIN stage_targets_0016 t ON t.policy_version = r.policy_version
          AND t.route = r.route AND t.state = c.from_state
        WHERE c.from_state IS NOT NULL
    """))
    _meta.drop_all(conn)
    op.create_index("ix_stage_times_left", "stage_times", ["area", "left_at"])


def downgrade() -> None:
    op.drop_index("ix_stage_times_left", table_name="stage_times")
    op.drop_table("stage_times")
