"""`audit verify` of the event chains against a lean asyncpg loop checking the same MACs.

Both read the same rows of a fresh PostgreSQL database (requests joined to their events, in
order), check the same things (sequence, link, payload digest, HMAC, the request's version and
head) and print the time each took and the ratio of their speeds.

    python -m bench.verify --requests 2000 --events 8 --rounds 3
    python -m bench.verify --url postgresql+asyncpg://…/disclosure_million --area A --rounds 2

With `--url`, an existing database is verified instead (an area of it with `--area`), each
pass in a process of its own so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import resource
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from statistics import median, quantiles

import asyncpg
import httpx
import msgspec
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from bench.servers import CANDIDATES, _generate, _http, serving
from disclosure import audit, seals
from disclosure.db import Database
from disclosure.keys import TrailKeys, trail_keys_for
from disclosure.migrations import upgrade
from disclosure.settings import Settings
from disclosure.users import Users

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LEAN_QUERY = """
SELECT r.id, r.reference, r.version, r.last_event_hash, e.seq, e.event, e.from_state,
       e.to_state, e.actor, e.occurred_at, e.policy_version, e.payload::text, e.payload_salt,
       e.payload_digest, e.prev_hash, e.hash, e.key_id, e.recorded_at
FROM requests r JOIN events e ON e.request_id = r.id
WHERE $1::text IS NULL OR r.area = $1
ORDER BY r.id, e.seq
"""


async def seed(db: Database, requests: int, events: int) -> None:
    """Requests with `events` keyed events each, written straight to the tables."""
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    async with db.engine.begin() as conn:
        for number in range(1, requests + 1):
            reference = f"DVDS-2026-{number:06d}"
            prev = audit.GENESIS
            rows = []
            for seq in range(1, events + 1):
                at = start + timedelta(minutes=number * 10 + seq)
                payload = {"event": f"step_{seq}", "summary": "Checks of police systems",
                           "information_held": seq % 2 == 0, "at": at.isoformat()}
                salt = audit.new_salt()
                digest = audit.payload_digest(payload, salt)
                key_id, mac = audit.link(
                    db.keys, prev_hash=prev, reference=reference, seq=seq, event=f"step_{seq}",
                    from_state="checks", to_state="checks", actor="bench.officer",
                    occurred_at=at, policy_version="dvds-2023", digest=digest,
                )
                rows.append({
                    "request_id": number, "seq": seq, "event": f"step_{seq}",
                    "from_state": "checks", "to_state": "checks", "actor": "bench.officer",
                    "occurred_at": at, "policy_version": "dvds-2023", "payload": payload,
                    "payload_salt": salt, "payload_digest": digest, "prev_hash": prev,
                    "hash": mac, "key_id": key_id,
                })
                prev = mac
            await conn.execute(insert(audit.REQUESTS), {
                "id": number, "reference": reference, "scheme": "dvds", "route": "right_to_ask",
                "area": "derbyshire", "division": "north", "channel": "online",
                "summary": "A concern", "state": "checks", "outcome": None,
                "immediate_risk": False, "policy_version": "dvds-2023", "received_at": start,
                "due_at": None, "stage_due_at": None, "closed_at": None, "created_at": start,
                "updated_at": start, "created_by": "bench.officer", "version": events,
                "last_event_hash": prev, "idempotency_key": None, "idempotency_digest": None,
            })
            await conn.execute(insert(audit.EVENTS), rows)


async def service(db: Database, area: str | None = None) -> tuple[float, int]:
    begun = time.perf_counter()
    found: list[seals.Broken] = []
    async with db.engine.connect() as conn:
        _, events = await audit.verify_chains(conn, db.keys, found, area=area)
    assert not found, found
    return time.perf_counter() - begun, events


async def lean(url: str, keys: TrailKeys, area: str | None = None) -> tuple[float, int]:
    """The same checks, straight from asyncpg's records, in one loop."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    begun = time.perf_counter()
    checked = 0
    current = None
    prev, last, version, head, reference = audit.GENESIS, 0, 0, "", ""
    try:
        async with conn.transaction():
            async for row in conn.cursor(LEAN_QUERY, area, prefetch=1000):
                (rid, ref, ver, last_hash, seq, event, from_state, to_state, actor,
                 occurred_at, policy_version, payload, salt, digest, prev_hash, mac,
                 key_id, recorded_at) = row
                if rid != current:
                    assert current is None or (version == last and head == prev), reference
                    current, reference, version, head = rid, ref, ver, last_hash
                    prev, last = audit.GENESIS, 0
                assert seq == last + 1 and prev_hash == prev, (reference, seq)
                if payload is not None:
                    body = msgspec.json.encode(msgspec.json.decode(payload), order="sorted")
                    assert hashlib.sha256(bytes.fromhex(salt) + body).hexdigest() == digest
                assert keys.mac(key_id, audit.link_message(
                    prev_hash=prev_hash, reference=ref, seq=seq, event=event,
                    from_state=from_state, to_state=to_state, actor=actor,
                    occurred_at=occurred_at, recorded_at=recorded_at,
                    policy_version=policy_version, digest=digest,
                )) == mac, (reference, seq)
                prev, last = mac, seq
                checked += 1
        assert version == last and head == prev, reference
    finally:
        await conn.close()
    return time.perf_counter() - begun, checked


def _alone(mode: str, url: str, keys: TrailKeys, area: str | None) -> tuple[float, int, int]:
    """One pass in a process of its own: seconds, events checked, and its peak memory (KiB)."""
    async def go() -> tuple[float, int]:
        if mode == "lean":
            return await lean(url, keys, area)
        db = Database(url, keys=keys)
        try:
            return await service(db, area)
        finally:
            await db.dispose()

    seconds, events = asyncio.run(go())
    return seconds, events, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def existing(url: str, areas: list[str | None], rounds: int) -> None:
    """Both loops over an existing database (its key file from DISCLOSURE_TRAIL_KEY_FILE), each
    pass in a fresh process, so each one's peak memory is its own."""
    keys = trail_keys_for(url, Settings().trail_key_file)
    context = multiprocessing.get_context("spawn")
    for area in areas:
        ratios = []
        for round_ in range(rounds + 1):
            figures = {}
            for mode in ("service", "lean"):
                with context.Pool(1) as pool:
                    figures[mode] = pool.apply(_alone, (mode, url, keys, area))
            (ours, checked, ours_kb), (base, lean_checked, base_kb) = (
                figures["service"], figures["lean"])
            assert checked == lean_checked
            if round_ == 0:
                continue  # the warm-up: the rows are now in the server's cache
            ratios.append(base / ours)
            print(f"{area or 'every area'}: {checked} events: verify {ours:.1f}s "
                  f"({checked / ours:,.0f}/s, peak {ours_kb / 1024:.0f} MiB), lean asyncpg "
                  f"{base:.1f}s ({checked / base:,.0f}/s, peak {base_kb / 1024:.0f} MiB), "
                  f"ratio {base / ours:.2f}")
        print(f"{area or 'every area'}: median ratio {median(ratios):.2f}")


async def run(url: str, requests: int, events: int, rounds: int) -> None:
    # A key of the run's own: the benchmark needs no key file.
    db = Database(url, keys=TrailKeys.random())
    try:
        await seed(db, requests, events)
        # One pass each first, so that neither pays for warming up in the figures.
        await service(db)
        await lean(url, db.keys)
        ratios = []
        for _ in range(rounds):
            ours, checked = await service(db)
            base, lean_checked = await lean(url, db.keys)
            assert checked == lean_checked == requests * events
            ratios.append(base / ours)
            print(f"{checked} events: verify {ours:.3f}s ({checked / ours:,.0f}/s), lean asyncpg"
                  f" {base:.3f}s ({checked / base:,.0f}/s), ratio {base / ours:.2f}")
        print(f"median ratio {median(ratios):.2f} (verify's speed over the lean loop's)")
    finally:
        await db.dispose()


async def during(url: str, area: str, seconds: float) -> None:
    """Other requests' latency while `GET /api/audit/verify` runs, against idle: an officer
    reads requests one at a time (the load generator of bench.servers, in its own process)
    first alone, then while an auditor verifies the area's trail over HTTP."""
    db = Database(url)
    try:
        users = Users(db)
        tokens = {}
        for role in ("disclosure_officer", "auditor"):
            name = f"bench.{role}.{uuid.uuid4().hex[:6]}"
            await users.add(name, password=secrets.token_urlsafe(16), area=area, roles=[role],
                            created_by="bench")
            tokens[role] = (await users.issue(name)).secret
        async with db.engine.connect() as conn:
            references = list((await conn.execute(text(
                "SELECT reference FROM requests WHERE area = :area ORDER BY random() LIMIT 50"
            ), {"area": area})).scalars())
    finally:
        await db.dispose()
    officer = tokens["disclosure_officer"]
    reads = [[_http("GET", f"/api/requests/{r}", officer) for r in references]]
    async with serving(CANDIDATES["uvicorn (uvloop, httptools)"], url, officer) as (_, port):
        spec = {"host": "127.0.0.1", "port": port, "seconds": seconds, "requests": reads,
                "etag_after": False}
        await _generate(spec | {"seconds": 1.0})
        idle = list(( await _generate(spec))["latencies"])  # type: ignore[call-overload]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=3600) as client:
            begun = time.perf_counter()
            verifying = asyncio.create_task(client.get(
                "/api/audit/verify", headers={"Authorization": f"Bearer {tokens['auditor']}"}))
            await asyncio.sleep(0.5)
            busy = list((await _generate(spec))["latencies"])  # type: ignore[call-overload]
            running = not verifying.done()
            verdict = (await verifying).json()
            took = time.perf_counter() - begun
    p95 = {name: quantiles(found, n=100)[94] * 1000 for name, found in
           (("idle", idle), ("verifying", busy))}
    print(f"{area}: verification over HTTP of {verdict['events_checked']} events (ok: "
          f"{verdict['ok']}) took {took:.1f}s"
          f" ({'still running' if running else 'finished'} when the reads ended); reads p95 "
          f"{p95['idle']:.1f} ms idle, {p95['verifying']:.1f} ms while verifying: "
          f"{p95['verifying'] / p95['idle']:.2f}x ({len(idle)} and {len(busy)} reads)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--events", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--url", default=None,
                        help="verify this existing database instead of seeding a fresh one")
    parser.add_argument("--area", action="append", default=None,
                        help="with --url: an area to verify (repeatable); default all")
    parser.add_argument("--http", type=float, default=0, metavar="SECONDS",
                        help="with --url and one --area: read requests over HTTP for this long,"
                        " idle and then while the area's trail is verified over HTTP")
    args = parser.parse_args()
    if args.url is not None and args.http:
        asyncio.run(during(args.url, args.area[0], args.http))
        return
    if args.url is not None:
        existing(args.url, args.area or [None], args.rounds)
        return
    server = make_url(args.postgres_url)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        asyncio.run(run(url, args.requests, args.events, args.rounds))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
