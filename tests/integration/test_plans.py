"""Every list and queue query uses an index led by the area, on a large table, under both the
plans PostgreSQL makes for one call (custom) and for a prepared statement (generic).

asyncpg prepares every statement, and after five calls PostgreSQL may keep a generic plan that
knows no parameter's value, so a query must be sargable with its parameters unknown.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.engine import make_url

from disclosure import cursors
from disclosure.db import Database
from disclosure.migrations import upgrade
from disclosure.policy import STAGES, load_policy_book
from disclosure.timeliness import STATE_OF_STAGE
from disclosure.workflow import Filters, Workflow
from tests.conftest import FakeClock, _require_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROWS = 80_000
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
STATES = ("received", "awaiting_meeting", "checks", "awaiting_decision", "awaiting_delivery",
          "awaiting_notice", "closed")
# One area holds half the requests and 39 small ones share the rest, as a national deployment
# of forces of very different sizes. One request in twenty is open.
FILL = f"""
INSERT INTO requests (id, reference, scheme, route, area, division, channel, summary, state,
    outcome, immediate_risk, policy_version, received_at, due_at, stage_due_at, closed_at,
    created_at, updated_at, created_by, version, last_event_hash)
SELECT g, 'DVDS-' || g, (ARRAY['dvds', 'csods', 'mappa'])[1 + g % 3],
    (ARRAY['right_to_ask', 'right_to_know'])[1 + (g / 3) % 2],
    CASE WHEN g % 2 = 0 THEN 'big' ELSE 'small_' || (g % 39) END, NULL, 'online', 'summary',
    state, CASE WHEN state = 'closed' THEN 'disclosed' END, g % 97 = 0, 'dvds-2023', at,
    CASE WHEN g % 11 <> 0 THEN at + interval '28 days' END,
    CASE WHEN state <> 'closed' AND g % 7 <> 0 THEN at + interval '10 days' END,
    CASE WHEN state = 'closed' THEN at + interval '20 days' END, at, at, 'seed', 1, 'hash'
FROM (
    SELECT g, timestamptz '2016-01-01 00:00+00' + g * interval '60 minutes' AS at,
        CASE WHEN g % 20 = 0 THEN (ARRAY{list(STATES[:-1])})[1 + (g / 20) % 6]
             ELSE 'closed' END AS state
    FROM generate_series(1, {ROWS}) AS g
) AS seed
"""


@pytest.fixture(scope="module")
def large_database() -> Iterator[str]:
    """A database of its own, with ROWS requests and fresh statistics."""
    server = make_url(_require_postgres())
    name = f"disclosure_plans_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        with engine.begin() as conn:
            conn.execute(text(FILL))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE requests"))
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def planner(large_database: str) -> Iterator[Connection]:
    engine = create_engine(make_url(large_database).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        yield conn
    engine.dispose()


@pytest.fixture
async def service(large_database: str) -> AsyncIterator[Workflow]:
    found = Workflow(Database(large_database), load_policy_book(None), now=FakeClock(NOW))
    yield found
    await found.db.dispose()


def listings() -> list[Filters]:
    """Every filter the list endpoint takes alone, and every queue with and without a stage."""
    found = [Filters()]
    found += [Filters(state=s) for s in STATES]
    found += [Filters(scheme=s) for s in ("dvds", "csods", "mappa")]
    found += [Filters(route=r) for r in ("right_to_ask", "right_to_know")]
    found += [Filters(overdue=True), Filters(overdue=False)]
    for stage in (None, *STAGES):
        for queue in (None, "overdue", "due_soon"):
            if stage or queue:
                found.append(Filters(stage=stage, queue=queue))  # type: ignore[arg-type]
    found += [Filters(queue="overdue", scheme="mappa"), Filters(state="checks", overdue=True)]
    return found


def page_two(filters: Filters) -> str:
    """A cursor such as the first page of this listing hands out."""
    if filters.queue is None and filters.stage is None:
        return cursors.encode(cursors.instant(NOW), ROWS // 2)
    return cursors.encode(True, cursors.instant(NOW), ROWS // 2)


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    assert isinstance(value, str)
    return "'" + value.replace("'", "''") + "'"


def plan(conn: Connection, service: Workflow, filters: Filters, *, area: str,
         cursor: str | None, mode: str) -> dict[str, Any]:
    """EXPLAIN of the listing as asyncpg sends it: prepared, with its values as parameters."""
    compiled = service.listing(filters, limit=50, cursor=cursor, area=area).compile(
        dialect=asyncpg.dialect()
    )
    values = [compiled.params[name] for name in compiled.positiontup or ()]
    conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")
    conn.exec_driver_sql(f"PREPARE listing AS {compiled.string}")
    try:
        arguments = f"({', '.join(literal(v) for v in values)})" if values else ""
        found = conn.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) EXECUTE listing{arguments}"
        ).scalar_one()
    finally:
        conn.exec_driver_sql("DEALLOCATE listing")
    return dict((json.loads(found) if isinstance(found, str) else found)[0]["Plan"])


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
async def test_every_listing_reads_an_index_led_by_the_area(
    planner: Connection, service: Workflow, mode: str
) -> None:
    failures: list[str] = []
    for filters in listings():
        for area in ("big", "small_7"):
            for cursor in (None, page_two(filters)):
                tree = plan(planner, service, filters, area=area, cursor=cursor, mode=mode)
                on_requests = [n for n in nodes(tree) if n.get("Relation Name") == "requests"
                               or n.get("Index Name", "").startswith("ix_requests")]
                indexes = {n["Index Name"] for n in on_requests if "Index Name" in n}
                scans = {n["Node Type"] for n in on_requests}
                led_by_area = all(
                    "area" in n.get("Index Cond", "") for n in on_requests if "Index Name" in n
                )
                if "Seq Scan" in scans or not indexes or not led_by_area:
                    failures.append(
                        f"{filters} area={area} cursor={cursor is not None}: "
                        f"{sorted(scans)} {sorted(indexes)}"
                    )
    assert not failures, "\n".join(failures)


def test_the_table_is_large_enough_for_a_scan_to_look_cheap_nowhere(planner: Connection) -> None:
    assert planner.exec_driver_sql("SELECT count(*) FROM requests").scalar_one() == ROWS
    states = dict(planner.exec_driver_sql(
        "SELECT state, count(*) FROM requests GROUP BY state"
    ).all())
    assert set(states) == set(STATES) and states["closed"] > ROWS * 0.9
    assert all(STATE_OF_STAGE[stage] in states for stage in STAGES)
