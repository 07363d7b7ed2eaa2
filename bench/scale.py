"""Every read path at scale, over HTTP, beside a raw baseline issuing the same statements.

Runs against an existing database (the million-request demo, or any other) and one large and
one small area of it. For each path (the plain list and its filters, both queues and every
stage queue over their pages, a request, its timeline, clock and actions, a name search):

- **latency**: the real app as deployed (`disclosure serve --workers 2`: uvicorn with uvloop
  and httptools; `--server` picks another) answers one call at a time from a load generator
  in its own process (`bench.servers`); p50/p95 in ms;
- **throughput**: the same calls from `--clients` connections at once, against the **raw
  baseline**: a process of its own sending, on `--clients` asyncpg connections, the very
  statements the app sent for each call (captured from the app's engine, in the same
  transactions), the read-trail line included, its seq and keyed hash worked out as the app does.
  Reported: calls per second and the CPU per call of the app's processes against the
  raw process's;
- **name search**: `GET /api/search` one at a time, beside a hand-written query on the same
  indexes asking the same (`HAND_SEARCH`: the area's distinct names `term % $2`, the parties
  holding them from the exact index, the best 20 requests by similarity, then newest, with the
  parties that matched), with the same search log written.

    python -m bench.scale --url postgresql+asyncpg://postgres@127.0.0.1:5432/disclosure_million

The trail key file (`DISCLOSURE_TRAIL_KEY_FILE`) must be the database's. The run adds two bench
users to each area it measures, and every read it makes is on the read trail, as it should be.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import quantiles
from typing import Any
from urllib.parse import unquote_plus, urlencode

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bench.servers import (
    DEPLOYED,
    SERVERS,
    _generate,
    _http,
    answer_in_process,
    in_own_process,
    serving,
)
from disclosure import reads
from disclosure.db import Database
from disclosure.keys import TrailKeys, trail_keys_for
from disclosure.policy import STAGES
from disclosure.search.names import name as normalised
from disclosure.settings import Settings
from disclosure.users import Users

Statement = tuple[str, tuple[Any, ...]]
# One call: the request it reads (for its read-trail line), and its statements.
Call = tuple[str, list[Statement]]
VIEW_HEAD = "SELECT views.seq, views.hash"
VIEW_INSERT = "INSERT INTO views"
SEARCH_LOG = "INSERT INTO searches"
SEARCH_RESULTS = "INSERT INTO search_results"


def _ms(values: list[float], q: int) -> float:
    return quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


# The raw baseline, in its own process --------------------------------------------------------

async def _replay(conn: Any, calls: list[Call], keys: TrailKeys, viewer: str,
                  until: float, latencies: list[float]) -> None:
    turn = 0
    while time.perf_counter() < until:
        reference, statements = calls[turn % len(calls)]
        turn += 1
        started = time.perf_counter()
        async with conn.transaction():
            head: Any = None
            search = 0
            for sql, args in statements:
                if sql.startswith(VIEW_INSERT):
                    # The app's own read-trail line: the next seq, chained and keyed alike.
                    rid, _, _, endpoint, _, _, _, key_id = args
                    seq, prev = (head[0] + 1, head[1]) if head else (1, reads.GENESIS)
                    at = datetime.now(UTC)
                    mac = keys.sign(reads.link_message(
                        prev_hash=prev, reference=reference, seq=seq, viewer=viewer,
                        endpoint=endpoint, viewed_at=at))
                    await conn.fetch(sql, rid, seq, viewer, endpoint, at, prev, mac, key_id)
                    continue
                if sql.startswith(SEARCH_RESULTS):
                    # The rows the app wrote under the search it had just logged.
                    shown = args if isinstance(args[0], tuple) else (args,)
                    await conn.executemany(sql, [(search, *row[1:]) for row in shown])
                    continue
                rows = await conn.fetch(sql, *args)
                if sql.startswith(VIEW_HEAD):
                    head = rows[0] if rows else None
                elif sql.startswith(SEARCH_LOG):
                    search = rows[0][0]
        latencies.append(time.perf_counter() - started)


async def _raw(spec: dict[str, Any]) -> dict[str, Any]:
    keys = trail_keys_for(spec["url"], Settings().trail_key_file)
    dsn = make_url(spec["url"]).set(drivername="postgresql").render_as_string(
        hide_password=False)
    conns = [await asyncpg.connect(dsn) for _ in range(spec["clients"])]
    latencies: list[list[float]] = [[] for _ in conns]
    calls: list[Call] = spec["calls"]
    try:
        # One second to warm up, as the app gets.
        await asyncio.gather(*(
            _replay(c, calls[i::len(conns)] or calls, keys, spec["viewer"],
                    time.perf_counter() + 1.0, [])
            for i, c in enumerate(conns)))
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        until = started + spec["seconds"]
        await asyncio.gather(*(
            _replay(c, calls[i::len(conns)] or calls, keys, spec["viewer"], until, found)
            for i, (c, found) in enumerate(zip(conns, latencies, strict=True))))
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        for c in conns:
            await c.close()
    flat = sorted(x for found in latencies for x in found)
    used = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    return {"count": len(flat), "seconds": elapsed, "latencies": flat, "cpu": used,
            "maxrss_kb": after.ru_maxrss}


# Capturing the statements each call sends ----------------------------------------------------

class Capture:
    """The statements the app sends for one HTTP call, taken from its engine."""

    def __init__(self, db: Database) -> None:
        self.statements: list[Statement] = []
        self.on = False
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
              _context: Any, _many: bool) -> None:
        if self.on:
            self.statements.append((statement, tuple(parameters or ())))

    async def of(self, call: Callable[[], Awaitable[httpx.Response]]) -> list[Statement]:
        self.statements = []
        self.on = True
        try:
            answer = await call()
        finally:
            self.on = False
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:200]}")
        return self.statements


# The paths ----------------------------------------------------------------------------------

@dataclass
class Path:
    name: str
    area: str
    urls: list[str]
    latencies: list[float] = field(default_factory=list)
    http: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


async def _pages(client: httpx.AsyncClient, query: dict[str, str], most: int) -> list[str]:
    """The URL of each page of a listing, following its cursors, up to `most` pages."""
    urls = []
    cursor = None
    while len(urls) < most:
        params = query | ({"cursor": cursor} if cursor else {})
        url = "/api/requests?" + urlencode(params)
        page = await client.get(url)
        if page.status_code != 200:
            raise RuntimeError(f"{url}: {page.status_code} {page.text[:200]}")
        urls.append(url)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    return urls


async def paths_of(client: httpx.AsyncClient, conn: Any, area: str, options: argparse.Namespace
                   ) -> list[Path]:
    chosen = [r["reference"] for r in await conn.fetch(
        "SELECT reference FROM requests WHERE area = $1 ORDER BY random() LIMIT $2",
        area, options.samples)]
    names = [r["term"] for r in await conn.fetch(
        "SELECT term FROM search_terms WHERE area = $1 AND field = 'name' ORDER BY random()"
        " LIMIT $2", area, options.samples)]
    listings: list[tuple[str, dict[str, str]]] = [
        ("list", {"limit": "50"}),
        ("list ?state=checks", {"state": "checks", "limit": "50"}),
        ("list ?overdue=true", {"overdue": "true", "limit": "50"}),
        ("list ?scheme=csods", {"scheme": "csods", "limit": "50"}),
        ("queue overdue", {"queue": "overdue", "limit": "50"}),
        ("queue due_soon", {"queue": "due_soon", "limit": "50"}),
    ]
    listings += [(f"queue stage={s}", {"stage": s, "limit": "50"}) for s in STAGES]
    found = []
    for name, query in listings:
        if options.only and name not in options.only:
            continue
        found.append(Path(name, area, await _pages(client, query, options.pages)))
    for name, suffix in (("request", ""), ("timeline", "/events"), ("clock", "/clock"),
                         ("actions", "/actions")):
        found.append(Path(name, area, [f"/api/requests/{r}{suffix}" for r in chosen]))
    found.append(Path("name search", area,
                      ["/api/search?" + urlencode({"q": n}) for n in names]))
    return [p for p in found if not options.only or p.name in options.only]


# By hand, what `GET /api/search?q=` asks of the database: the area's best 20 requests by their
# closest name or organisation (then newest), each with the parties that matched; and the log
# of the search with the requests shown, as the service must write.
HAND_SEARCH = """
WITH named AS MATERIALIZED (
    SELECT field, term, similarity(term, $2) AS s FROM search_names
    WHERE area = $1 AND field IN ('name', 'organisation') AND term % $2),
found AS (
    SELECT t.request_id, t.party_id, t.role, t.field, named.s FROM named
    JOIN search_terms t ON t.area = $1 AND t.field = named.field AND t.term = named.term),
best AS MATERIALIZED (
    SELECT request_id, max(s) AS score FROM found GROUP BY request_id
    ORDER BY score DESC, request_id DESC LIMIT 20),
shown AS MATERIALIZED (
    SELECT f.* FROM found f WHERE f.request_id IN (SELECT request_id FROM best))
SELECT r.id, r.reference, r.scheme, r.route, r.state, r.outcome, r.received_at, best.score,
    f.role, f.field, p.name, p.date_of_birth, f.s
FROM best JOIN requests r ON r.id = best.request_id
    JOIN shown f ON f.request_id = best.request_id LEFT JOIN parties p ON p.id = f.party_id
ORDER BY best.score DESC, r.id DESC, f.s DESC, f.party_id
"""
HAND_LOG = ("INSERT INTO searches (searcher, area, searched_at, terms, results)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id")
HAND_SHOWN = "INSERT INTO search_results (search_id, rank, request_id) VALUES ($1, $2, $3)"


async def hand_written_search(conn: Any, area: str, names: list[str], seconds: float,
                              searcher: str) -> list[float]:
    """The same indexes, queried by hand for what the service's search asks (its
    names normalised as the service normalises them)."""
    latencies = []
    until = time.perf_counter() + seconds
    turn = 0
    while time.perf_counter() < until:
        q = names[turn % len(names)]
        term = normalised(q)
        turn += 1
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute("SET LOCAL pg_trgm.similarity_threshold = 0.4;"
                               " SET LOCAL plan_cache_mode = force_custom_plan")
            rows = await conn.fetch(HAND_SEARCH, area, term)
        shown = list(dict.fromkeys(row["id"] for row in rows))
        async with conn.transaction():
            search = await conn.fetchval(HAND_LOG, searcher, area, datetime.now(UTC), q,
                                         len(shown))
            if shown:
                await conn.executemany(HAND_SHOWN, [
                    (search, rank, rid) for rank, rid in enumerate(shown, start=1)])
        latencies.append(time.perf_counter() - started)
    return sorted(latencies)


async def explain(conn: Any, area: str, name: str, call: Call, out: Any) -> None:
    """The plan of every query one call sent, as PostgreSQL ran it (in one transaction rolled
    back, so a locking read's lock goes with it), pg_trgm's threshold set as the app set it
    before each statement that reads it."""
    print(f"\n### {name} ({area})\n", file=out)
    tr = conn.transaction()
    await tr.start()
    try:
        for sql, args in call[1]:
            if "set_config" in sql:
                await conn.fetch(sql, *args)
                continue
            if not sql.startswith("SELECT"):
                continue
            plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", *args)
            print("```\n" + " ".join(sql.split())[:300] + "\n", file=out)
            print("\n".join(row[0] for row in plan) + "\n```\n", file=out)
    finally:
        await tr.rollback()


async def sign_up(url: str, area: str) -> tuple[str, str]:
    """A bench officer (who may also decide) in the area; their username and bearer token."""
    db = Database(url)
    try:
        users = Users(db)
        username = f"bench.{area}.{uuid.uuid4().hex[:6]}"
        await users.add(username, password=secrets.token_urlsafe(16), area=area,
                        roles=["disclosure_officer"], created_by="bench")
        return username, (await users.issue(username)).secret
    finally:
        await db.dispose()


async def areas(conn: Any) -> tuple[str, str]:
    """The area with the most requests, and the one with the fewest."""
    rows = await conn.fetch(
        "SELECT area, sum(requests) AS n FROM request_counts GROUP BY area ORDER BY n DESC")
    return rows[0]["area"], rows[-1]["area"]


async def main(options: argparse.Namespace) -> None:
    os.environ["DISCLOSURE_DATABASE_URL"] = options.url
    dsn = make_url(options.url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    conn = await asyncpg.connect(dsn)
    if options.analyze:
        await conn.execute("ANALYZE")
    counted = await conn.fetchval("SELECT count(*) FROM requests")
    chosen = options.area or list(await areas(conn))
    print(f"{counted} requests; areas {', '.join(chosen)}; load average "
          f"{os.getloadavg()[0]:.1f}", file=sys.stderr)
    from api.app import create_app  # after the URL is set: the app reads its settings

    app = create_app()
    db: Database = app.state.users.db
    capture = Capture(db)
    print("| area | path | pages or samples | calls | p50 ms | p95 ms | HTTP calls/s "
          "| raw calls/s | HTTP/raw | app CPU ms/call | raw CPU ms/call | CPU ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for area in chosen:
        username, token = await sign_up(options.url, area)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://bench", headers=headers) as client:
            paths = await paths_of(client, conn, area, options)
            calls: dict[str, list[Call]] = {}
            for path in paths if not options.latency_only or options.explain else ():
                await client.get(path.urls[0])  # the credential, looked up once and cached
                calls[path.name] = [
                    (url.split("/")[3].split("?")[0] if url.startswith("/api/requests/") else "",
                     await capture.of(lambda url=url: client.get(url)))  # type: ignore[misc]
                    for url in path.urls[:options.samples]]
                if options.explain is not None:
                    with open(options.explain, "a") as out:
                        await explain(conn, area, path.name, calls[path.name][0], out)
        async with serving(SERVERS[options.server], options.url, token) as (pid, port):
            base = {"host": "127.0.0.1", "port": port, "etag_after": False}
            for path in paths:
                requests = [_http("GET", url, token) for url in path.urls]
                one = await _generate(base | {"seconds": options.seconds,
                                              "requests": [requests]})
                path.latencies = list(one["latencies"])
                if options.latency_only:
                    print(f"| {area} | {path.name} | {len(path.urls)} | {len(path.latencies)} "
                          f"| {_ms(path.latencies, 50):.1f} | {_ms(path.latencies, 95):.1f} "
                          "| | | | | | |", flush=True)
                    continue
                path.http = await _generate(base | {
                    "seconds": options.seconds, "server_pid": pid,
                    "requests": [requests[i::options.clients] or requests
                                 for i in range(options.clients)]})
                path.raw = await in_own_process("bench.scale", {
                    "url": options.url, "clients": options.clients, "calls": calls[path.name],
                    "seconds": options.seconds, "viewer": username})
                print(_row(path), flush=True)
        names = [u.split("q=", 1)[1] for p in paths if p.name == "name search" for u in p.urls]
        if not names:
            continue
        hand = await hand_written_search(conn, area, [unquote_plus(n) for n in names],
                                         options.seconds, username)
        print(f"| {area} | hand-written query (same indexes) | {len(names)} "
              f"| {len(hand)} | {_ms(hand, 50):.1f} | {_ms(hand, 95):.1f} | | | | | | |",
              flush=True)
    await conn.close()
    await db.dispose()
    print(f"\n{counted} requests, {options.clients} clients for throughput, load average "
          f"{os.getloadavg()[0]:.1f} at the end")


def _row(p: Path) -> str:
    rate = p.http["count"] / p.http["seconds"]
    raw_rate = p.raw["count"] / p.raw["seconds"]
    cpu = p.http["cpu"] / p.http["count"] * 1000
    raw_cpu = p.raw["cpu"] / p.raw["count"] * 1000
    return (f"| {p.area} | {p.name} | {len(p.urls)} | {len(p.latencies)} "
            f"| {_ms(p.latencies, 50):.1f} | {_ms(p.latencies, 95):.1f} | {rate:.0f} "
            f"| {raw_rate:.0f} | {rate / raw_rate:.2f} | {cpu:.2f} | {raw_cpu:.2f} "
            f"| {cpu / raw_cpu:.2f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["raw"]:
        answer_in_process(_raw)
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/"
                            "disclosure_million")
        parser.add_argument("--server", choices=SERVERS, default=DEPLOYED,
                            help="how the app is served (default: as deployed, %(default)s)")
        parser.add_argument("--area", action="append", default=None,
                            help="an area to measure (repeatable); default the largest and"
                            " the smallest")
        parser.add_argument("--clients", type=int, default=8)
        parser.add_argument("--seconds", type=float, default=3.0)
        parser.add_argument("--pages", type=int, default=200,
                            help="pages of each listing walked, at most")
        parser.add_argument("--samples", type=int, default=50,
                            help="requests and names sampled per area")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--only", action="append", default=None, metavar="PATH",
                            help="measure only this path (its name as printed; repeatable)")
        parser.add_argument("--latency-only", action="store_true",
                            help="one call at a time only: no throughput, no raw baseline")
        parser.add_argument("--analyze", action="store_true",
                            help="ANALYZE the database first (a freshly loaded one has no"
                            " statistics, and its plans are guesses)")
        parser.add_argument("--explain", default=None, metavar="FILE",
                            help="append the EXPLAIN ANALYZE of each path's queries to FILE")
        options = parser.parse_args()
        random.seed(options.seed)
        asyncio.run(main(options))
