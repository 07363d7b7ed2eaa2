"""A transition over HTTP against the same transition as hand-written SQL, on an existing database.

Each client has `--requests-per-client` requests of its own in the checks stage and sends
`record_check` to each in turn, again and again (it keeps a request in checks), each with the
If-Match of that request's answer before:

- **HTTP**: the real app as deployed (`disclosure serve --workers 2`: uvicorn with uvloop and
  httptools, a worker a core; `--server` picks another) driven by the load generator of
  `bench.servers`, in its own process; the server's CPU is read from /proc for its whole
  process tree;
- **raw**: `bench.raw.RawLifecycle` in a process of its own, its clients as asyncio tasks: the
  service's statements written by hand on the service's engine (the locked read, the check,
  the keyed event link, the request's row checked against its seal, one `UPDATE` with the
  version check, the seals), with the service's `seals.Sealer` working out the seals; its
  CPU is its own. It moves requests of its own, sealed as the service seals them.

Throughput, p50/p99 and CPU per transition at each `--clients`, interleaved over `--rounds`.

    python -m bench.transitions --url postgresql+asyncpg://postgres@127.0.0.1:5432/disclosure_million
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from typing import Any

import asyncpg
import httpx
import msgspec
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.raw import RawLifecycle
from bench.scale import _ms, areas, sign_up
from bench.servers import (
    DEPLOYED,
    SERVERS,
    _generate,
    _http,
    answer_in_process,
    in_own_process,
    serving,
)
from disclosure.db import Database
from disclosure.policy import load_policy_book
from disclosure.schemas import RecordCheck
from tests.factories import body, new_request


async def _raw(spec: dict[str, Any]) -> dict[str, Any]:
    db = Database(spec["url"])
    raw = RawLifecycle(db, load_policy_book(None))
    check = msgspec.convert(body("record_check"), RecordCheck)
    latencies: list[float] = []

    async def client(references: list[str], until: float, found: list[float]) -> None:
        async with db.engine.connect() as conn:
            versions = [(await conn.execute(
                text("SELECT version FROM requests WHERE reference = :r"), {"r": reference}
            )).scalar_one() for reference in references]
        turn = 0
        while time.perf_counter() < until:
            which = turn % len(references)
            turn += 1
            started = time.perf_counter()
            versions[which] = await raw.send(references[which], check, actor=spec["actor"],
                                             expected_version=versions[which])
            found.append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(client(mine, time.perf_counter() + 1.0, [])
                               for mine in spec["references"]))
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        until = started + spec["seconds"]
        await asyncio.gather(*(client(mine, until, latencies) for mine in spec["references"]))
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await db.dispose()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"count": len(latencies), "seconds": elapsed, "latencies": sorted(latencies),
            "cpu": cpu}


async def prepare(app: Any, token: str, area: str, count: int) -> list[str]:
    """`count` requests of the area, each in the checks stage."""
    references = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(count):
            made = await client.post("/api/requests",
                                     json=new_request(area=area) | {"division": None})
            assert made.status_code == 201, made.text
            reference, etag = made.json()["reference"], made.headers["etag"]
            for event in ("complete_initial_checks", "record_meeting"):
                sent = await client.post(f"/api/requests/{reference}/events", json=body(event),
                                         headers={"If-Match": etag})
                assert sent.status_code == 200, sent.text
                etag = sent.headers["etag"]
            references.append(reference)
    return references


async def main(options: argparse.Namespace) -> None:
    os.environ["DISCLOSURE_DATABASE_URL"] = options.url
    from api.app import create_app  # after the URL is set: the app reads its settings

    conn = await asyncpg.connect(
        make_url(options.url).set(drivername="postgresql").render_as_string(hide_password=False))
    area = options.area or (await areas(conn))[0]
    await conn.close()
    username, token = await sign_up(options.url, area)
    app = create_app()
    # Separate requests for the two, so that neither finds a version the other moved.
    most = max(options.clients) * options.requests_per_client
    references = await prepare(app, token, area, most)
    raw_references = await prepare(app, token, area, most)
    await app.state.users.db.dispose()
    figures: dict[tuple[str, int], list[dict[str, Any]]] = {}
    async with serving(SERVERS[options.server], options.url, token) as (pid, port):
        for round_ in range(options.rounds):
            for clients in options.clients:
                per_client = options.requests_per_client
                spec = {"host": "127.0.0.1", "port": port, "seconds": 1.0, "etag_after": True,
                        "requests": [[_http("POST", f"/api/requests/{r}/events", token,
                                            body("record_check"), if_match=True)
                                      for r in references[i::clients][:per_client]]
                                     for i in range(clients)]}
                await _generate(spec)
                http = await _generate(spec | {"seconds": options.seconds, "server_pid": pid})
                raw = await in_own_process("bench.transitions", {
                    "url": options.url,
                    "references": [raw_references[i::clients][:per_client]
                                   for i in range(clients)],
                    "seconds": options.seconds, "actor": username})
                for mode, found in (("HTTP", http), ("raw", raw)):
                    figures.setdefault((mode, clients), []).append(found)
                print(f"round {round_ + 1}, {clients} clients: HTTP "
                      f"{http['count'] / http['seconds']:.0f}/s, raw "
                      f"{raw['count'] / raw['seconds']:.0f}/s", file=sys.stderr)
    print(f"\narea {area}, load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| clients | mode | transitions | per s | vs raw | p50 ms | p99 ms | CPU ms/transition "
          "| vs raw |")
    print("|---|---|---|---|---|---|---|---|---|")
    for clients in options.clients:
        pooled = {}
        for mode in ("raw", "HTTP"):
            runs = figures[(mode, clients)]
            count = sum(int(r["count"]) for r in runs)
            pooled[mode] = (count, count / sum(float(r["seconds"]) for r in runs),
                            sorted(x for r in runs for x in r["latencies"]),
                            sum(float(r["cpu"]) for r in runs) / count * 1000)
        for mode, (count, rate, latencies, cpu) in pooled.items():
            print(f"| {clients} | {mode} | {count} | {rate:.0f} | {rate / pooled['raw'][1]:.2f} "
                  f"| {_ms(latencies, 50):.1f} | {_ms(latencies, 99):.1f} | {cpu:.2f} "
                  f"| {cpu / pooled['raw'][3]:.2f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["raw"]:
        answer_in_process(_raw)
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/"
                            "disclosure_million")
        parser.add_argument("--server", choices=SERVERS, default=DEPLOYED,
                            help="how the app is served (default: as deployed, %(default)s)")
        parser.add_argument("--area", default=None, help="default: the largest")
        parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
        parser.add_argument("--seconds", type=float, default=4.0)
        parser.add_argument("--rounds", type=int, default=2)
        parser.add_argument("--requests-per-client", type=int, default=8,
                            help="each client sends to its own requests in turn (default"
                            " %(default)s): a request's seal covers its rows' seals, so one"
                            " request sent thousands of checks costs more a check than a"
                            " request of a few dozen rows does")
        asyncio.run(main(parser.parse_args()))
