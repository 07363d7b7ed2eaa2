"""The board's annual report against hand-written SQL of the same figures, on PostgreSQL.

Both run against an existing database (by default `disclosure_million`, made by
`disclosure demo --requests 1000000`): the service's `report()` builds every table (both
periods, the snapshot on both last days, the assembly into tables); the baseline sends the same
figures as plain SQL statements through asyncpg, written by hand, and keeps the rows. Both read
side by side on as many connections (`SIDE_BY_SIDE`), sharing one exported snapshot. Each round
times one of each, interleaved, after one warm-up of each; the figures both give are compared.

    python -m bench.reports --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/disclosure_million
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, date, datetime
from statistics import median
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from disclosure.db import Database
from disclosure.reports.periods import Period, last_financial_year, parse
from disclosure.reports.service import POSTGRESQL_SETTINGS, SIDE_BY_SIDE, Report, report

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/disclosure_million"

# $1 area, $2 start of the previous period, $3 start of the period, $4 its end.
BUCKET = "CASE WHEN {at} >= $3 THEN 'current' ELSE 'previous' END"
DAYS = "EXTRACT(EPOCH FROM ({b} - {a})) / 86400.0"
# Nearest rank, as the service: percentile_disc gives the ceil(n/2)-th and ceil(9n/10)-th.
SPREAD = """
SELECT {keys}, count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY days),
       percentile_disc(0.9) WITHIN GROUP (ORDER BY days), max(days){sums}
FROM ({source}) s
GROUP BY {keys}
"""
CLOSED = f"""
SELECT {BUCKET.format(at="c.closed_at")} AS bucket, c.request_id, c.scheme, c.route,
       CASE WHEN c.division = ANY($5::text[]) THEN c.division ELSE 'unassigned' END AS place,
       c.outcome, c.event, {DAYS.format(a="c.started_at", b="c.closed_at")} AS days,
       CASE WHEN c.closed_at <= c.due_at THEN 1 ELSE 0 END AS in_limit
FROM closure_times c
WHERE c.area = $1 AND c.closed_at >= $2 AND c.closed_at < $4
"""
DELIVERED = f"""
SELECT {BUCKET.format(at="dr.settled_at")} AS bucket, dr.request_id, r.scheme, r.route,
       r.division
FROM decision_recipients dr JOIN requests r ON r.id = dr.request_id
WHERE r.area = $1 AND dr.settlement = 'delivered' AND dr.settled_at >= $2 AND dr.settled_at < $4
  AND r.received_at < $4 AND (r.closed_at IS NULL OR r.closed_at >= $2)
"""
STAGES = f"""
SELECT {BUCKET.format(at="left_at")} AS bucket, scheme, route, state,
       {DAYS.format(a="entered_at", b="left_at")} AS days,
       CASE WHEN left_at <= due_at THEN 1 WHEN due_at IS NOT NULL THEN 0 END AS in_limit
FROM stage_times
WHERE area = $1 AND left_at >= $2 AND left_at < $4
  AND state IN ('received', 'awaiting_meeting', 'checks', 'awaiting_decision',
                'awaiting_delivery', 'awaiting_notice')
"""
OPEN_AT = """
SELECT state, count(*), sum(overdue) FROM (
  SELECT (SELECT e.to_state FROM events e WHERE e.request_id = r.id AND e.occurred_at < $2
          ORDER BY e.seq DESC LIMIT 1) AS state,
         CASE WHEN r.due_at < $2 THEN 1 ELSE 0 END AS overdue
  FROM requests r
  WHERE r.area = $1 AND r.received_at < $2 AND (r.closed_at IS NULL OR r.closed_at >= $2)
    AND NOT EXISTS (SELECT 1 FROM closures c WHERE c.request_id = r.id AND c.closed_at < $2
                    AND c.reopened_seq IS NOT NULL
                    AND (c.reopened_at IS NULL OR c.reopened_at >= $2))
) s GROUP BY state
"""
# Each nominal of the area as it stood at $2: its last event before then.
STANDING = """
SELECT e.nominal_id, e.level, e.category, e.location FROM nominal_events e
JOIN nominals n ON n.id = e.nominal_id
WHERE n.area = $1 AND e.occurred_at < $2 AND NOT EXISTS (
  SELECT 1 FROM nominal_events l WHERE l.nominal_id = e.nominal_id AND l.occurred_at < $2
  AND l.seq > e.seq)
"""
NOMINALS_ON = f"""
SELECT level, category, count(*) FROM ({STANDING}) s
WHERE level IN (2, 3) AND location = 'community' GROUP BY 1, 2
"""
NOMINALS_DURING = f"""
SELECT level, category, count(*) FROM (
  SELECT DISTINCT level, category, nominal_id FROM (
    {STANDING}
    UNION
    SELECT e.nominal_id, e.level, e.category, e.location FROM nominal_events e
    JOIN nominals n ON n.id = e.nominal_id
    WHERE n.area = $1 AND e.occurred_at >= $3 AND e.occurred_at < $2) every
  WHERE level IN (2, 3) AND location = 'community') found
GROUP BY 1, 2
"""
STATEMENTS: dict[str, str] = {
    "applications": f"""
SELECT {BUCKET.format(at="r.received_at")}, r.scheme, r.route, r.division, count(*),
  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM parties p WHERE p.request_id = r.id
    AND p.role = 'applicant' AND p.relationship_code IS NOT NULL
    AND p.relationship_code != 'self')),
  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM parties p WHERE p.request_id = r.id
    AND p.role = 'subject' AND p.registered_sex_offender IS true))
FROM requests r WHERE r.area = $1 AND r.received_at >= $2 AND r.received_at < $4
GROUP BY 1, 2, 3, 4""",
    "disclosures": f"SELECT bucket, scheme, route, division, count(DISTINCT request_id)"
                   f" FROM ({DELIVERED}) d GROUP BY 1, 2, 3, 4",
    "closures": f"SELECT bucket, scheme, route, place, outcome, event, count(*), sum(in_limit),"
                f" count(*) FILTER (WHERE days <= 35) FROM ({CLOSED}) c GROUP BY 1, 2, 3, 4, 5, 6",
    "closure_days": f"WITH closed AS ({CLOSED})\n"
    + "\nUNION ALL\n".join(
        SPREAD.format(keys=keys, source="SELECT * FROM closed", sums="").replace(
            f"SELECT {keys}, count(*)", f"SELECT {shown}, count(*), '{name}'")
        for name, keys, shown in (
            ("kind", "bucket, scheme, route", "bucket, scheme, route, NULL"),
            ("place", "bucket, place", "bucket, NULL, NULL, place"),
            ("all", "bucket", "bucket, NULL, NULL, NULL"))),
    "stage_days": SPREAD.format(keys="bucket, scheme, route, state", source=STAGES,
                                sums=", sum(in_limit)"),
    "extensions": f"""
SELECT {BUCKET.format(at="x.granted_at")}, r.scheme, r.route, x.category, count(*)
FROM extensions x JOIN requests r ON r.id = x.request_id
WHERE r.area = $1 AND x.granted_at >= $2 AND x.granted_at < $4
  AND r.received_at < $4 AND (r.closed_at IS NULL OR r.closed_at >= $2) GROUP BY 1, 2, 3, 4""",
    "equality": f"""
SELECT c.bucket, p.role, p.sex, p.age_band, p.ethnicity, c.outcome, count(*)
FROM ({CLOSED}) c JOIN parties p ON p.request_id = c.request_id
WHERE p.role IN ('applicant', 'person_at_risk', 'child', 'subject') AND p.kind = 'person'
GROUP BY 1, 2, 3, 4, 5, 6""",
    "meetings": f"""
SELECT {BUCKET.format(at="m.held_at")}, m.level, count(*),
       count(*) FILTER (WHERE m.consideration IS NOT NULL),
       count(*) FILTER (WHERE m.consideration = 'no_disclosure')
FROM meetings m WHERE m.area = $1 AND m.held_at >= $2 AND m.held_at < $4 GROUP BY 1, 2""",
    "agreed": f"""
SELECT {BUCKET.format(at="m.held_at")}, m.level, count(*),
       count(*) FILTER (WHERE dr.settlement = 'delivered'),
       count(*) FILTER (WHERE dr.settlement = 'delivered' AND dr.settled_at <= dr.deliver_by)
FROM decision_recipients dr JOIN requests r ON r.id = dr.request_id
JOIN meetings m ON m.id = r.meeting_id
WHERE m.area = $1 AND m.held_at >= $2 AND m.held_at < $4 GROUP BY 1, 2""",
}


async def _divisions(conn: asyncpg.Connection, area: str) -> list[str]:
    rows = await conn.fetch("SELECT code FROM divisions WHERE area = $1 ORDER BY code", area)
    return [row["code"] for row in rows]


async def baseline(conns: list[asyncpg.Connection], area: str,
                   period: Period) -> dict[str, Any]:
    """Every figure of the report, by hand-written SQL: the first connection exports its
    snapshot, and the others read the statements side by side on it, as the service does."""
    first, readers = conns[0], conns[1:]
    previous = period.previous()
    divisions = await _divisions(first, area)
    args = (area, previous.start, period.start, period.end)
    waiting: list[tuple[str, str, tuple[Any, ...]]] = [
        (name, sql, (*args, divisions) if "$5" in sql else args)
        for name, sql in STATEMENTS.items()
    ]
    waiting += [("open_current", OPEN_AT, (area, period.end)),
                ("open_previous", OPEN_AT, (area, previous.end))]
    for name, span in (("current", period), ("previous", previous)):
        waiting += [(f"nominals_on_{name}", NOMINALS_ON, (area, span.end)),
                    (f"nominals_during_{name}", NOMINALS_DURING, (area, span.end, span.start))]
    found: dict[str, Any] = {}
    async with first.transaction(isolation="repeatable_read", readonly=True):
        snapshot = await first.fetchval("SELECT pg_export_snapshot()")

        async def read(conn: asyncpg.Connection) -> None:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                while waiting:
                    name, sql, given = waiting.pop(0)
                    found[name] = await conn.fetch(sql, *given)

        await asyncio.gather(*(read(conn) for conn in readers))
    return found


async def service(db: Database, area: str, period: Period) -> Report:
    async with db.report() as session:
        return await report(session, area=area, period=period,
                            produced_at=datetime.now(UTC))


def _cell(made: Report, table: str, row: str, column: str) -> Any:
    found = next(t for t in made.tables if t.id == table)
    return next(r for r in found.rows if r.id == row).cells[column]


def compare(made: Report, raw: dict[str, Any]) -> None:
    """The figures both give, side by side: a mismatch stops the benchmark."""
    applications = sum(row[4] for row in raw["applications"] if row[0] == "current")
    reported = sum(_cell(made, t, r, "applications") for t in ("dvds_return", "csods_return")
                   for r in ("right_to_ask", "right_to_know"))
    mappa = sum(row[4] for row in raw["applications"]
                if row[0] == "current" and row[1] == "mappa")
    assert applications == reported + mappa, (applications, reported, mappa)
    closed = sum(row[6] for row in raw["closures"] if row[0] == "current")
    assert closed == _cell(made, "outcomes", "total", "total"), closed
    every = [row for row in raw["closure_days"] if row[0] == "current" and row[-1] == "all"]
    if every:
        assert round(float(every[0][5]), 1) == _cell(made, "timeliness", "all", "median_days")
    stage_rows = [row for row in next(t for t in made.tables if t.id == "timeliness").rows
                  if row.id.count(".") == 2]
    for column, at in (("closed", 4), ("within_limit", 8)):
        left = sum(row[at] or 0 for row in raw["stage_days"] if row[0] == "current")
        reported = sum(row.cells[column] or 0 for row in stage_rows)
        assert left == reported, (column, left, reported)
    still_open = sum(row[1] for row in raw["open_current"])
    assert still_open == _cell(made, "open_at_period_end", "total", "open"), still_open


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--area", help="default: the area with the most requests")
    parser.add_argument("--period", help="default: the last financial year")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = make_url(args.database_url)
    db = Database(args.database_url)
    conns = [await asyncpg.connect(url.set(drivername="postgresql").render_as_string(
        hide_password=False)) for _ in range(1 + SIDE_BY_SIDE)]
    conn = conns[0]
    try:
        # The same settings the service's report transactions make.
        for each in conns:
            for name, value in POSTGRESQL_SETTINGS.items():
                await each.execute(f"SET {name} = '{value}'")
        area = args.area or await conn.fetchval(
            "SELECT area FROM requests GROUP BY area ORDER BY count(*) DESC LIMIT 1")
        period = parse(args.period) if args.period else last_financial_year(date.today())
        requests = await conn.fetchval("SELECT count(*) FROM requests")
        events = await conn.fetchval("SELECT count(*) FROM events")
        print(f"{requests} requests, {events} events; area {area}, period {period.key}")
        made, raw = await service(db, area, period), await baseline(conns, area, period)
        compare(made, raw)
        timings: dict[str, list[float]] = {"service": [], "raw": []}
        for _ in range(args.rounds):
            began = time.perf_counter()
            await service(db, area, period)
            timings["service"].append(time.perf_counter() - began)
            began = time.perf_counter()
            await baseline(conns, area, period)
            timings["raw"].append(time.perf_counter() - began)
        service_s, raw_s = median(timings["service"]), median(timings["raw"])
        print(f"service report: median {service_s:.3f} s over {args.rounds} rounds"
              f" ({', '.join(f'{t:.3f}' for t in timings['service'])})")
        print(f"hand-written SQL: median {raw_s:.3f} s"
              f" ({', '.join(f'{t:.3f}' for t in timings['raw'])})")
        print(f"ratio service / raw: {service_s / raw_s:.2f}x")
    finally:
        for each in conns:
            await each.close()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
