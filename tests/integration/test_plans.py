"""Every list and queue query, and every search for a person, uses an index led by the area,
on a large table, under both the plans PostgreSQL makes for one call (custom) and for a prepared
statement (generic).

asyncpg prepares every statement, and after five calls PostgreSQL may keep a generic plan that
knows no parameter's value, so a query must be sargable with its parameters unknown.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest
from sqlalchemy import Connection, Executable, create_engine, text
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.engine import make_url

from disclosure import cursors
from disclosure.db import Database
from disclosure.migrations import upgrade
from disclosure.policy import STAGES, load_policy_book
from disclosure.search import duplicates, matching, names
from disclosure.search.matching import FindingPolicy
from disclosure.search.service import Finder
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

# Each request names a subject and a person at risk: one of thirty forenames and one of 1,499
# surnames, so each of 44,970 full names recurs in a few requests (and a big area holds tens of
# thousands of distinct names, as a force does) and a forename in thousands.
PEOPLE = """
INSERT INTO parties (id, request_id, role, name, date_of_birth, kind)
SELECT 2 * id - 1 + k, id, (ARRAY['subject', 'person_at_risk'])[1 + k],
    (ARRAY['james', 'daniel', 'mark', 'paul', 'lee', 'craig', 'gary', 'stephen', 'john',
           'robert', 'sarah', 'emma', 'laura', 'lisa', 'claire', 'kerry', 'amy', 'zoe',
           'michelle', 'rebecca', 'adam', 'ryan', 'liam', 'jordan', 'kieran', 'jade', 'holly',
           'gemma', 'natalie', 'chloe'])[1 + (2 * id + k) % 30]
    || ' ' || translate(substr(md5(((2 * id + k) % 1499)::text), 1, 7), '0123456789',
                        'ghijklmnop'),
    (date '1960-01-01' + ((2 * id + k) % 9000)::int)::text, 'person'
FROM requests, generate_series(0, 1) AS k;
INSERT INTO search_terms (request_id, party_id, area, role, field, term)
SELECT p.request_id, p.id, r.area, p.role, f.field, f.term
FROM parties p JOIN requests r ON r.id = p.request_id,
    LATERAL (VALUES ('name', p.name), ('date_of_birth', p.date_of_birth)) AS f(field, term);
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
            conn.execute(text(PEOPLE))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE requests, parties, search_terms, search_names"))
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
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    assert isinstance(value, str)
    return "'" + value.replace("'", "''") + "'"


def plan(conn: Connection, statement: Executable, *, mode: str,
         values: dict[str, Any] | None = None) -> dict[str, Any]:
    """EXPLAIN of a statement as asyncpg sends it: prepared, with its values as parameters."""
    compiled = statement.compile(dialect=asyncpg.dialect())
    # An `IN` list goes as one parameter for each of its values, as asyncpg sends it.
    sent = compiled.construct_expanded_state(compiled.params | (values or {}))
    ordered = [sent.parameters[name] for name in sent.positiontup or ()]
    conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")
    # psycopg reads `%` as a placeholder: pg_trgm's operator is written doubled.
    conn.exec_driver_sql(f"PREPARE listing AS {sent.statement.replace('%', '%%')}")
    try:
        arguments = f"({', '.join(literal(v) for v in ordered)})" if ordered else ""
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
                tree = plan(planner, service.listing(filters, limit=50, cursor=cursor, area=area),
                            mode=mode)
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


class Person(NamedTuple):
    role: str
    name: str | None
    date_of_birth: str | None


def findings(conn: Connection, area: str) -> Iterator[tuple[str, Executable, dict[str, Any]]]:
    """Every statement that finds people by name: a search's page (with and without a date of
    birth, first and later pages) and what its requests matched, and the possible duplicates
    of one and of two parties."""
    name, born = conn.exec_driver_sql(
        "SELECT p.name, p.date_of_birth FROM parties p JOIN requests r ON r.id = p.request_id"
        f" WHERE r.area = '{area}' AND p.role = 'subject' ORDER BY p.id LIMIT 1"
    ).one()
    finder = Finder(Database(f"postgresql+asyncpg:///{area}"), FindingPolicy(),
                    now=lambda: NOW)
    for query in (names.parse(name), names.parse(f"{name} {born}")):
        for cursor in (None, cursors.encode(0.5, ROWS // 2)):
            yield (f"search {query} cursor={cursor is not None}",
                   finder.page(query, area=area, limit=20, cursor=cursor), {})
        # What each request of a page matched: its own names, read by the request ids.
        ids = list(conn.exec_driver_sql(
            f"SELECT id FROM requests WHERE area = '{area}' ORDER BY id LIMIT 20").scalars())
        yield f"why {query}", finder.why(query, area=area, ids=ids), {}
    for parties in ([Person("subject", name, None)],
                    [Person("subject", name, born), Person("person_at_risk", "Zoe Smith", None)]):
        values = duplicates.parameters("postgresql", FindingPolicy(), request_id=ROWS // 2,
                                       area=area, parties=parties)
        yield (f"duplicates of {len(parties)}",
               duplicates.statement("postgresql", values.pop("compared")), values)


# A finding statement is planned for its values (`matching.prepare` sets it for the
# transaction; the next test checks that it does): the area names the partition.
@pytest.mark.parametrize("mode", ["force_custom_plan"])
def test_finding_people_reads_only_the_areas_partition_of_the_trigram_index(
    planner: Connection, mode: str
) -> None:
    planner.exec_driver_sql("SET pg_trgm.similarity_threshold = 0.4")
    # Each partition of the search terms (migration 0017) and its indexes.
    partitions = set(planner.exec_driver_sql(
        "SELECT relid::regclass::text FROM pg_partition_tree('search_terms')"
        " WHERE isleaf").scalars())
    indexes = set(planner.exec_driver_sql(
        "SELECT relid::regclass::text FROM pg_partition_tree('ix_search_terms_trgm')"
        " WHERE isleaf UNION SELECT relid::regclass::text"
        " FROM pg_partition_tree('ix_search_terms_exact') WHERE isleaf UNION"
        " SELECT relid::regclass::text FROM pg_partition_tree('ix_search_terms_request')"
        " WHERE isleaf").scalars())
    # The partitions of the distinct names (migration 0018), and those holding so few names
    # that reading them whole costs what their index would: a small area's.
    names = {name: planner.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one()
             for name in planner.exec_driver_sql(
                 "SELECT relid::regclass::text FROM pg_partition_tree('search_names')"
                 " WHERE isleaf").scalars()}
    few = {name for name, held in names.items() if held < 10_000}
    failures: list[str] = []
    for area in ("big", "small_7"):
        for what, statement, values in findings(planner, area):
            tree = list(nodes(plan(planner, statement, mode=mode, values=values)))
            scans = sorted(f"{n['Node Type']} {n.get('Relation Name', n.get('Index Name'))}"
                           for n in tree if "Scan" in n["Node Type"])
            read = {n["Relation Name"] for n in tree if n.get("Relation Name") in partitions}
            named = {n["Relation Name"] for n in tree if n.get("Relation Name") in names}
            through = {n["Index Name"] for n in tree if n.get("Index Name") in indexes}
            whole = [n for n in tree
                     if n["Node Type"] == "Seq Scan" and n.get("Relation Name") not in few]
            # Only the area's own partition is read, through the trigram index or (for an
            # area with few names) the index led by the area; never scanned whole, but for
            # the names of an area that holds few.
            if len(read) != 1 or len(named) > 1 or not through or whole:
                failures.append(f"{what} area={area}: {scans}")
    # The big area's names are many: read through their trigram index, never whole.
    assert planner.exec_driver_sql(
        "SELECT tableoid::regclass::text FROM search_names WHERE area = 'big' LIMIT 1"
    ).scalar_one() not in few
    assert not failures, "\n".join(failures)


async def test_finding_people_plans_its_statements_for_their_values(
    service: Workflow,
) -> None:
    async with service.db.engine.begin() as conn:
        await matching.prepare(conn, "postgresql", 0.4)
        settings = (await conn.execute(text(
            "SELECT current_setting('plan_cache_mode'),"
            " current_setting('pg_trgm.similarity_threshold')"))).one()
    assert tuple(settings) == ("force_custom_plan", "0.4")
