"""Full DVDS right-to-ask lifecycles per second through the service, over HTTP and as raw SQL.

A lifecycle is seven transactions: receive, complete_initial_checks, record_meeting,
record_check, complete_checks, record_decision (disclose, by a second actor) and
record_delivery, which closes the request. Each of `--clients` asyncio tasks walks its own
requests until `--lifecycles` have been started or `--max-seconds` have passed.

    python -m bench.lifecycles --lifecycles 200 --clients 32 --backend both --http
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import quantiles
from typing import Protocol

import httpx
import msgspec
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.raw import Opened, RawLifecycle
from disclosure import audit
from disclosure.db import Database
from disclosure.migrations import upgrade
from disclosure.models import Request
from disclosure.policy import load_policy_book
from disclosure.schemas import PAYLOADS, EventIn, NewRequest, RecordDecision, RecordDelivery
from disclosure.users import Users
from disclosure.workflow import Workflow
from tests.factories import body, new_request

OFFICER = "bench.officer"
DECIDER = "bench.decider"
STEPS: tuple[tuple[str, str], ...] = (
    ("complete_initial_checks", OFFICER),
    ("record_meeting", OFFICER),
    ("record_check", OFFICER),
    ("complete_checks", OFFICER),
    ("record_decision", DECIDER),
    ("record_delivery", OFFICER),
)
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


class Walker(Protocol):
    """One way of driving the lifecycle: the service, the HTTP API or the raw baseline."""

    async def receive(self, new: NewRequest, *, actor: str) -> Opened: ...

    async def send(
        self, reference: str, payload: EventIn, *, actor: str, expected_version: int
    ) -> int: ...


class ServiceWalker:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow

    async def receive(self, new: NewRequest, *, actor: str) -> Opened:
        view = await self.workflow.create(new, actor=actor)
        at_risk = next(p.id for p in view.parties if p.role == "person_at_risk")
        return Opened(view.reference, view.version, at_risk)

    async def send(
        self, reference: str, payload: EventIn, *, actor: str, expected_version: int
    ) -> int:
        done = await self.workflow.apply(
            reference, payload, actor=actor, expected_version=expected_version
        )
        return done.version


class HttpWalker:
    """The API as each actor calls it: one client, each call with that actor's bearer token."""

    def __init__(self, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.auth = {actor: {"Authorization": f"Bearer {t}", "Content-Type": "application/json"}
                     for actor, t in tokens.items()}

    async def receive(self, new: NewRequest, *, actor: str) -> Opened:
        response = await self.client.post(
            "/api/requests/", content=_json(new), headers=self.auth[actor]
        )
        _expect(response, 201)
        view = response.json()
        at_risk = next(p["id"] for p in view["parties"] if p["role"] == "person_at_risk")
        return Opened(view["reference"], _etag(response), at_risk)

    async def send(
        self, reference: str, payload: EventIn, *, actor: str, expected_version: int
    ) -> int:
        response = await self.client.post(
            f"/api/requests/{reference}/events",
            content=_json(payload),
            headers=self.auth[actor] | {"If-Match": f'"{expected_version}"'},
        )
        _expect(response, 200)
        return _etag(response)


def _json(value: msgspec.Struct) -> bytes:
    return msgspec.json.encode(value)


def _etag(response: httpx.Response) -> int:
    return int(response.headers["ETag"].strip('"'))


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")


# Payloads --------------------------------------------------------------------------------

def _new() -> NewRequest:
    # Received when the payloads of `body` say, the morning before their first event.
    request = new_request()
    # The person at risk applies, so the delivery closes the request: no notice is owed.
    for party in request["parties"]:
        if party["role"] == "applicant":
            party |= {"relationship": "self", "relationship_code": "self"}
    return msgspec.convert(request, NewRequest)


def _payloads() -> dict[str, EventIn]:
    """One payload per step; the recipient is filled in per request by `_walk`."""
    return {event: msgspec.convert(body(event), PAYLOADS[event]) for event, _ in STEPS}


# Running ---------------------------------------------------------------------------------

@dataclass
class Run:
    backend: str
    mode: str
    lifecycles: int
    seconds: float
    transactions: list[float]
    walks: list[float]

    @property
    def rate(self) -> float:
        return self.lifecycles / self.seconds

    def __add__(self, other: Run) -> Run:
        return Run(
            self.backend, self.mode, self.lifecycles + other.lifecycles,
            self.seconds + other.seconds, self.transactions + other.transactions,
            self.walks + other.walks,
        )


async def _walk(
    walker: Walker, new: NewRequest, payloads: dict[str, EventIn], transactions: list[float]
) -> None:
    start = time.perf_counter()
    opened = await walker.receive(new, actor=OFFICER)
    transactions.append(time.perf_counter() - start)
    version = opened.version
    for event, actor in STEPS:
        payload = payloads[event]
        if isinstance(payload, RecordDecision):
            payload = msgspec.structs.replace(payload, recipients=[
                msgspec.structs.replace(r, party_id=opened.at_risk) for r in payload.recipients
            ])
        elif isinstance(payload, RecordDelivery):
            payload = msgspec.structs.replace(payload, recipient_party_id=opened.at_risk)
        begun = time.perf_counter()
        version = await walker.send(
            opened.reference, payload, actor=actor, expected_version=version
        )
        transactions.append(time.perf_counter() - begun)


async def measure(
    walker: Walker, *, backend: str, mode: str, lifecycles: int, clients: int, seconds: float
) -> Run:
    """Warm up with one lifecycle per client, then walk until the count or the time runs out."""
    new, payloads = _new(), _payloads()
    await asyncio.gather(*(_walk(walker, new, payloads, []) for _ in range(clients)))
    transactions: list[float] = []
    walks: list[float] = []
    remaining = lifecycles
    start = time.perf_counter()
    deadline = start + seconds

    async def client() -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            begun = time.perf_counter()
            await _walk(walker, new, payloads, transactions)
            walks.append(time.perf_counter() - begun)

    await asyncio.gather(*(client() for _ in range(clients)))
    return Run(backend, mode, len(walks), time.perf_counter() - start, transactions, walks)


async def _check(url: str, expected: int) -> None:
    """Every request walked to closed and every trail verifies: the runs did the same work."""
    db = Database(url)
    try:
        async with db.read() as session:
            closed = await session.scalar(
                select(func.count()).where(Request.state == "closed")
            )
        verdict = await audit.verify(db)
    finally:
        await db.dispose()
    if closed != expected or not verdict.ok:
        raise RuntimeError(f"{url}: {closed} of {expected} closed; trail {verdict}")


# Databases and servers ---------------------------------------------------------------------

@asynccontextmanager
async def database(backend: str, postgres_url: str) -> AsyncIterator[str]:
    """A fresh, migrated throwaway database, dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            await asyncio.to_thread(upgrade, url)
            yield url
        return
    server = make_url(postgres_url)
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def sign_up(url: str) -> dict[str, str]:
    """The officer and the decider, in the area the requests are for; a bearer token each."""
    db = Database(url)
    try:
        users = Users(db)
        area = _new().area
        await users.add_area(area, name=area.capitalize())
        tokens: dict[str, str] = {}
        for actor, role in ((OFFICER, "disclosure_officer"), (DECIDER, "decision_maker")):
            await users.add(
                actor, password=secrets.token_urlsafe(16), area=area, roles=[role],
                created_by="bench",
            )
            tokens[actor] = (await users.issue(actor)).secret
        return tokens
    finally:
        await db.dispose()


@asynccontextmanager
async def app_server(url: str, token: str) -> AsyncIterator[str]:
    """The real app under uvicorn on a loopback port; `token` is used to see that it answers."""
    port = _free_port()
    env = os.environ | {"DISCLOSURE_DATABASE_URL": url}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as probe:
            for _ in range(300):
                if process.poll() is not None:
                    raise RuntimeError(f"the app exited with {process.returncode}")
                try:
                    if (await probe.get("/api/requests/?limit=1")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the app did not start within 30 seconds")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# The three modes -------------------------------------------------------------------------

@dataclass(frozen=True)
class Options:
    lifecycles: int
    clients: int
    seconds: float
    postgres_url: str


Mode = Callable[[str, str, Options], Awaitable[Run]]


async def raw(backend: str, url: str, options: Options) -> Run:
    db = Database(url)
    try:
        walker = RawLifecycle(db, load_policy_book(None))
        return await _measure(walker, backend, "raw SQL", options)
    finally:
        await db.dispose()


async def service(backend: str, url: str, options: Options) -> Run:
    workflow = Workflow(Database(url), load_policy_book(None))
    try:
        return await _measure(ServiceWalker(workflow), backend, "service", options)
    finally:
        await workflow.db.dispose()


async def http(backend: str, url: str, options: Options) -> Run:
    tokens = await sign_up(url)
    clients = options.clients
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with (
        app_server(url, tokens[OFFICER]) as base,
        httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client,
    ):
        return await _measure(HttpWalker(client, tokens), backend, "HTTP", options)


async def _measure(walker: Walker, backend: str, mode: str, options: Options) -> Run:
    return await measure(
        walker, backend=backend, mode=mode, lifecycles=options.lifecycles,
        clients=options.clients, seconds=options.seconds,
    )


# Report ----------------------------------------------------------------------------------

def _ms(samples: list[float], percentile: int) -> float:
    return quantiles(samples, n=100, method="inclusive")[percentile - 1] * 1000


def report(runs: list[Run]) -> str:
    header = (
        "| backend | mode | lifecycles | s | lifecycles/s | vs raw | tx p50 ms | tx p99 ms"
        " | lifecycle p50 ms | lifecycle p99 ms |"
    )
    lines = [header, "|" + "---|" * 10]
    baseline = {r.backend: r.rate for r in runs if r.mode == "raw SQL"}
    for r in runs:
        ratio = f"{r.rate / baseline[r.backend]:.2f}" if r.backend in baseline else "-"
        lines.append(
            f"| {r.backend} | {r.mode} | {r.lifecycles} | {r.seconds:.1f} | {r.rate:.1f} |"
            f" {ratio} | {_ms(r.transactions, 50):.1f} | {_ms(r.transactions, 99):.1f} |"
            f" {_ms(r.walks, 50):.0f} | {_ms(r.walks, 99):.0f} |"
        )
    return "\n".join(lines)


async def main(
    backends: list[str], modes: list[Mode], options: Options, rounds: int
) -> list[Run]:
    """Interleave the modes round by round, so that drift in the machine's load hits all alike."""
    pooled: dict[tuple[str, str], Run] = {}
    for _ in range(rounds):
        for backend in backends:
            for mode in modes:
                async with database(backend, options.postgres_url) as url:
                    run = await mode(backend, url, options)
                    await _check(url, run.lifecycles + options.clients)
                print(f"{run.backend:8} {run.mode:8} {run.rate:7.1f} lifecycles/s", file=sys.stderr)
                key = (run.backend, run.mode)
                pooled[key] = pooled[key] + run if key in pooled else run
    return list(pooled.values())


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycles", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lifecycles", type=int, default=200,
                        help="lifecycles timed per run, after one warm-up lifecycle per client")
    parser.add_argument("--clients", type=int, default=32, help="concurrent asyncio tasks")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--http", action=argparse.BooleanOptionalAction, default=True,
                        help="also drive the API under uvicorn (default: yes)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every run this many times and pool the figures")
    parser.add_argument("--max-seconds", type=float, default=15.0,
                        help="stop starting lifecycles after this long in each run")
    parser.add_argument("--postgres-url", default=POSTGRES_URL,
                        help="a server to create throwaway databases on")
    args = parser.parse_args(argv)
    if min(args.lifecycles, args.clients, args.rounds) < 1:
        parser.error("--lifecycles, --clients and --rounds must be at least 1")
    return args


if __name__ == "__main__":
    args = parse()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    modes: list[Mode] = [raw, service, http] if args.http else [raw, service]
    options = Options(args.lifecycles, args.clients, args.max_seconds, args.postgres_url)
    print(report(asyncio.run(main(backends, modes, options, args.rounds))))
