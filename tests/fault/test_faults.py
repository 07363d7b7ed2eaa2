"""Fault tests: races across processes, kill -9, a database restart, retried creates.

Each drives real `disclosure serve` processes over HTTP on 127.0.0.1 and then reads the
database directly: an answer of 200 or 201 is a promise, and every promise must be kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from disclosure import audit
from disclosure.models import Event, Request
from disclosure.workflow import Workflow
from tests import factories
from tests.fault.conftest import (
    AREA,
    OFFICER,
    Cluster,
    Figures,
    Seeded,
    Server,
    seed,
    serve,
)

pytestmark = [pytest.mark.fault]

# The events a right-to-ask request takes from `received`, one after another.
STREAM = ("complete_initial_checks", "record_meeting", "record_check", "complete_checks")


async def start(servers: list[Server], url: str, log_dir: Path, count: int) -> list[Server]:
    return list(await asyncio.gather(
        *(asyncio.to_thread(serve, servers, url, log_dir) for _ in range(count))
    ))


async def receive(seeded: Seeded, count: int) -> list[str]:
    return [
        (await seeded.workflow.create(factories.new(area=AREA), actor=OFFICER)).reference
        for _ in range(count)
    ]


async def trail(workflow: Workflow) -> dict[str, list[str]]:
    """Every request's events, in order, as stored."""
    async with workflow.db.read() as session:
        rows = await session.execute(
            select(Request.reference, Event.event)
            .join(Event, Event.request_id == Request.id)
            .order_by(Request.reference, Event.seq)
        )
        found: dict[str, list[str]] = {}
        for reference, event in rows:
            found.setdefault(reference, []).append(event)
        return found


async def verified(workflow: Workflow) -> bool:
    return (await audit.verify(workflow.db)).ok


def event_call(
    client: httpx.AsyncClient, server: Server, seeded: Seeded, reference: str, event: str,
    version: int,
) -> Any:
    return client.post(
        f"{server.url}/api/requests/{reference}/events", json=factories.body(event),
        headers={**seeded.headers, "If-Match": f'"{version}"'},
    )


@pytest.mark.postgres
@pytest.mark.timeout(240)
async def test_two_app_processes_take_conflicting_transitions(
    postgres_url: str, servers: list[Server], tmp_path: Path, figures: Figures
) -> None:
    seeded = await seed(postgres_url)
    try:
        one, other = await start(servers, postgres_url, tmp_path, 2)
        references = await receive(seeded, 100)
        limit = asyncio.Semaphore(16)

        async def send(server: Server, reference: str, event: str) -> int:
            async with limit:
                answer = await event_call(client, server, seeded, reference, event, 1)
                return answer.status_code

        async with httpx.AsyncClient(timeout=60) as client:
            statuses = await asyncio.gather(*(
                send(server, reference, event)
                for reference in references
                for server, event in ((one, "withdraw"), (other, "complete_initial_checks"))
            ))
        stored = await trail(seeded.workflow)
        per_request = [statuses[i:i + 2] for i in range(0, len(statuses), 2)]
        figures["sent"] = len(statuses)
        figures["acknowledged"] = statuses.count(200)
        figures["refused_412"] = statuses.count(412)
        winners = [
            ("withdraw" if pair[0] == 200 else "complete_initial_checks")
            for pair in per_request
        ]
        figures["lost"] = sum(
            stored[reference][1:] != [winner]
            for reference, winner, pair in zip(references, winners, per_request, strict=True)
            if 200 in pair
        )
        figures["duplicated"] = sum(len(stored[reference]) > 2 for reference in references)
        assert all(sorted(pair) == [200, 412] for pair in per_request), Counter(statuses)
        assert figures["lost"] == 0 and figures["duplicated"] == 0
        assert {len(events) for events in stored.values()} == {2}
        assert await verified(seeded.workflow)
    finally:
        await seeded.workflow.db.dispose()


class Stream:
    """Requests taken through their events by several workers; every answer is recorded."""

    def __init__(self, seeded: Seeded, references: list[str]) -> None:
        self.seeded = seeded
        self.todo = list(references)
        self.acknowledged: list[tuple[str, int, str]] = []
        self.sent = 0
        self.unanswered = 0
        self.statuses: Counter[int] = Counter()

    async def walk(self, client: httpx.AsyncClient, server: Server) -> None:
        while self.todo:
            reference = self.todo.pop()
            for version, event in enumerate(STREAM, start=1):
                self.sent += 1
                try:
                    answer = await event_call(client, server, self.seeded, reference, event,
                                              version)
                except httpx.TransportError:
                    # Sent but never answered: it may or may not have been applied.
                    self.unanswered += 1
                    return
                self.statuses[answer.status_code] += 1
                if answer.status_code != 200:
                    break
                self.acknowledged.append((reference, version + 1, event))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
@pytest.mark.timeout(240)
async def test_kill_9_under_a_stream_of_transitions_loses_nothing_acknowledged(
    backend: str, request: pytest.FixtureRequest, servers: list[Server], tmp_path: Path,
    figures: Figures,
) -> None:
    url = (f"sqlite+aiosqlite:///{tmp_path / 'disclosure.db'}" if backend == "sqlite"
           else request.getfixturevalue("postgres_url"))
    seeded = await seed(url)
    try:
        [server] = await start(servers, url, tmp_path, 1)
        stream = Stream(seeded, await receive(seeded, 60))
        async with httpx.AsyncClient(timeout=30) as client:
            workers = [asyncio.create_task(stream.walk(client, server)) for _ in range(8)]
            deadline = time.monotonic() + 60
            while len(stream.acknowledged) < 80 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            server.kill()
            await asyncio.gather(*workers)
        stored = await trail(seeded.workflow)
        figures["sent"] = stream.sent
        figures["acknowledged"] = len(stream.acknowledged)
        figures["unanswered"] = stream.unanswered
        figures["lost"] = sum(
            len(stored[reference]) < version or stored[reference][version - 1] != event
            for reference, version, event in stream.acknowledged
        )
        sent_to: Counter[str] = Counter()
        for reference, _, _ in stream.acknowledged:
            sent_to[reference] += 1
        figures["duplicated"] = sum(
            len(events) - 1 > sent_to[reference] + 1 for reference, events in stored.items()
        )
        assert len(stream.acknowledged) >= 80, stream.statuses
        assert stream.unanswered > 0, "the kill came after the stream had finished"
        assert figures["lost"] == 0 and figures["duplicated"] == 0
        assert set(stream.statuses) == {200}, stream.statuses
        assert await verified(seeded.workflow)

        # The restarted server takes up the work where the trail says it stands.
        [again] = await start(servers, url, tmp_path, 1)
        async with httpx.AsyncClient(timeout=30) as client:
            reference = stream.acknowledged[0][0]
            version = len(stored[reference])
            answer = await client.post(
                f"{again.url}/api/requests/{reference}/events",
                json=factories.body("withdraw"),
                headers={**seeded.headers, "If-Match": f'"{version}"'},
            )
        assert answer.status_code == 200, answer.text
        assert await verified(seeded.workflow)
    finally:
        await seeded.workflow.db.dispose()


class Load:
    """Creates and first events sent without pause; each answer classified."""

    def __init__(self, seeded: Seeded, server: Server) -> None:
        self.seeded = seeded
        self.server = server
        self.acknowledged: list[tuple[str, int]] = []
        self.sent = 0
        self.unavailable = 0
        self.unexpected: list[str] = []
        self.running = True

    async def answer(self, call: Any) -> httpx.Response | None:
        self.sent += 1
        try:
            response: httpx.Response = await call
        except httpx.TransportError as exc:
            self.unexpected.append(f"no answer: {type(exc).__name__}")
            return None
        if response.status_code == 503:
            self.unavailable += 1
            problem = response.json()
            if "Retry-After" not in response.headers or problem["status"] != 503:
                self.unexpected.append(f"503 without Retry-After: {response.text[:200]}")
            return None
        if response.status_code not in (200, 201):
            self.unexpected.append(f"{response.status_code}: {response.text[:200]}")
            return None
        return response

    async def run(self, client: httpx.AsyncClient) -> None:
        while self.running:
            created = await self.answer(client.post(
                f"{self.server.url}/api/requests", json=factories.new_request(area=AREA),
                headers=self.seeded.headers,
            ))
            if created is None:
                await asyncio.sleep(0.05)
                continue
            reference = created.json()["reference"]
            self.acknowledged.append((reference, 1))
            sent = await self.answer(event_call(
                client, self.server, self.seeded, reference, "complete_initial_checks", 1
            ))
            if sent is not None:
                self.acknowledged.append((reference, 2))


async def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.postgres
@pytest.mark.timeout(240)
async def test_a_database_restart_under_load_gives_clean_503s_and_recovers(
    cluster: Cluster, servers: list[Server], tmp_path: Path, figures: Figures
) -> None:
    seeded = await seed(cluster.url)
    try:
        [server] = await start(servers, cluster.url, tmp_path, 1)
        assert server.process is not None
        load = Load(seeded, server)
        async with httpx.AsyncClient(timeout=30) as client:

            async def ready() -> bool:
                return (await client.get(f"{server.url}/readyz")).status_code == 200

            async def not_ready() -> bool:
                return (await client.get(f"{server.url}/readyz")).status_code == 503

            workers = [asyncio.create_task(load.run(client)) for _ in range(4)]
            assert await wait_for(lambda: _at_least(load.acknowledged, 20), 60)
            await asyncio.to_thread(cluster.stop, "immediate")
            before_outage = len(load.acknowledged)
            assert await wait_for(not_ready, 10)
            assert await wait_for(lambda: _at_least_value(load, 10), 30)
            alive = await client.get(f"{server.url}/healthz")
            await asyncio.to_thread(cluster.start)
            assert await wait_for(ready, 30), "readiness did not come back"
            assert await wait_for(lambda: _at_least(load.acknowledged, before_outage + 20), 60)
            load.running = False
            await asyncio.gather(*workers)
        assert server.process.poll() is None, "the app was restarted or died"
        assert alive.status_code == 200, "liveness must not depend on the database"
        stored = await trail(seeded.workflow)
        figures["sent"] = load.sent
        figures["acknowledged"] = len(load.acknowledged)
        figures["refused_503"] = load.unavailable
        figures["lost"] = sum(
            len(stored.get(reference, [])) < version for reference, version in load.acknowledged
        )
        figures["duplicated"] = sum(
            len(events) > 2 for events in stored.values()
        )
        assert load.unexpected == [], "\n".join(server.warnings())
        assert load.unavailable > 0
        assert figures["lost"] == 0 and figures["duplicated"] == 0
        assert await verified(seeded.workflow)
    finally:
        await seeded.workflow.db.dispose()


async def _at_least(items: list[Any], count: int) -> bool:
    return len(items) >= count


async def _at_least_value(load: Load, count: int) -> bool:
    return load.unavailable >= count


@pytest.mark.postgres
@pytest.mark.timeout(120)
async def test_identical_creates_with_one_idempotency_key_make_one_request(
    postgres_url: str, servers: list[Server], tmp_path: Path, figures: Figures
) -> None:
    seeded = await seed(postgres_url)
    try:
        pair = await start(servers, postgres_url, tmp_path, 2)
        body = factories.new_request(area=AREA)
        async with httpx.AsyncClient(timeout=60) as client:
            answers = await asyncio.gather(*(
                client.post(f"{pair[i % 2].url}/api/requests", json=body,
                            headers={**seeded.headers, "Idempotency-Key": "call-0001"})
                for i in range(20)
            ))
        async with seeded.workflow.db.read() as session:
            stored = await session.scalar(select(func.count()).select_from(Request))
        references = {a.json()["reference"] for a in answers if a.status_code == 201}
        figures["sent"] = len(answers)
        figures["acknowledged"] = sum(a.status_code == 201 for a in answers)
        figures["lost"] = 0 if stored else 1
        figures["duplicated"] = (stored or 0) - 1
        assert [a.status_code for a in answers] == [201] * 20
        assert len(references) == 1 and stored == 1
        assert await verified(seeded.workflow)
    finally:
        await seeded.workflow.db.dispose()
