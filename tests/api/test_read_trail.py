"""Every answer carrying personal data is on the read trail, derived from the permission table."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import Connection, event, select
from sqlalchemy.exc import OperationalError

from disclosure import access, reads
from disclosure.mapp.meetings import Meetings
from disclosure.mapp.nominals import Nominals
from disclosure.mapp.schemas import NewMeeting, NewNominal
from disclosure.models import NominalRead, View
from disclosure.workflow import Workflow
from tests import factories
from tests.api import reviewing
from tests.api.conftest import OWN, People
from tests.api.test_access_matrix import SAMPLES, _call

OFFICER = "disclosure_officer"


async def views_of(workflow: Workflow) -> list[Any]:
    async with workflow.db.read() as session:
        rows = await session.execute(select(View.viewer, View.endpoint).order_by(View.id))
        return [(viewer, endpoint) for viewer, endpoint in rows]


async def nominal_views_of(workflow: Workflow) -> list[Any]:
    async with workflow.db.read() as session:
        rows = await session.execute(
            select(NominalRead.nominal_id, NominalRead.viewer, NominalRead.endpoint)
            .order_by(NominalRead.id)
        )
        return [(nominal, viewer, endpoint) for nominal, viewer, endpoint in rows]


async def test_every_personal_endpoint_logs_its_answer(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    # A request of a review whose record an auditor released (itself a view on the trail).
    _, reference = await reviewing.released(workflow, OWN)
    # The MAPP samples act on the area's first nominal and its meeting.
    nominal = await Nominals(workflow).register(
        msgspec.convert(factories.new_nominal(), NewNominal), actor="seed")
    await Meetings(workflow).create(
        msgspec.convert(factories.new_meeting(nominal.id), NewMeeting), actor="seed")
    personal = [
        name for name, rule in access.ENDPOINTS.items() if rule.personal and not rule.own_log
    ]
    assert {"read", "timeline", "clock", "receive", "read_nominal", "read_meeting",
            "released_decision"} <= set(personal)
    for handler in personal:
        role = next(r for r in access.ROLES if r in access.ENDPOINTS[handler].roles)
        before = await views_of(workflow) + await nominal_views_of(workflow)
        answer = await _call(client, workflow, SAMPLES[handler](reference, OWN, role),
                             people.bearer(role))
        assert 200 <= answer.status_code < 300, (handler, answer.text)
        after = await views_of(workflow) + await nominal_views_of(workflow)
        added = list((Counter(after) - Counter(before)).elements())
        who = (people.username(role), handler)
        if handler.endswith(("_nominal", "_meeting", "_meeting_event")):
            # A nominal's answers, and its meetings', go on the nominal's own read trail.
            expected = answer.json().get("nominal_id", answer.json()["id"])
            assert added == [(expected, *who)], handler
        else:
            assert added == [who], handler


async def test_reading_the_clock_is_logged(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    reference = (await workflow.create(factories.new(area=OWN), actor="seed")).reference
    answer = await client.get(f"/api/requests/{reference}/clock", headers=people.bearer(OFFICER))
    assert answer.status_code == 200
    assert await views_of(workflow) == [(people.username(OFFICER), "clock")]


async def test_a_replayed_create_is_logged_as_a_read(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    headers = {**people.bearer(OFFICER), "Idempotency-Key": "call-0001"}
    first = await client.post("/api/requests", json=factories.new_request(), headers=headers)
    replay = await client.post("/api/requests", json=factories.new_request(), headers=headers)
    assert replay.json()["parties"] == first.json()["parties"]
    assert await views_of(workflow) == [(people.username(OFFICER), "receive")] * 2


async def test_a_refused_read_is_not_logged(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    reference = (await workflow.create(factories.new(area=OWN), actor="seed")).reference
    elsewhere = people.bearer(OFFICER, "durham")
    assert (await client.get(f"/api/requests/{reference}", headers=elsewhere)).status_code == 404
    assert await views_of(workflow) == []


async def test_the_views_are_paged(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    reference = (await workflow.create(factories.new(area=OWN), actor="seed")).reference
    for _ in range(5):
        await client.get(f"/api/requests/{reference}", headers=people.bearer(OFFICER))
    auditor = people.bearer("auditor")
    seen: list[int] = []
    cursor = ""
    while True:
        page = (await client.get(f"/api/requests/{reference}/views?limit=2{cursor}",
                                 headers=auditor)).json()
        assert len(page["items"]) <= 2
        seen += [v["seq"] for v in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [1, 2, 3, 4, 5]
    forged = await client.get(f"/api/requests/{reference}/views?cursor=bm9wZQ", headers=auditor)
    assert forged.status_code == 400


async def test_a_read_that_cannot_be_logged_answers_503_when_the_database_is_away(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = (await workflow.create(factories.new(area=OWN), actor="seed")).reference

    async def database_away(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT INTO views", {}, ConnectionRefusedError())

    # Both ways a read is logged: in the read's own transaction, and in one of its own.
    monkeypatch.setattr(reads, "append", database_away)
    answer = await client.get(f"/api/requests/{reference}", headers=people.bearer(OFFICER))
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert "parties" not in answer.text


@pytest.mark.parametrize("path", ["", "/events", "/clock"])
async def test_a_logged_read_is_one_transaction(
    client: httpx.AsyncClient, people: People, workflow: Workflow, path: str
) -> None:
    reference = (await workflow.create(factories.new(area=OWN), actor="seed")).reference
    url = f"/api/requests/{reference}{path}"
    officer = people.bearer(OFFICER)
    # The first call also looks up the credential; the next ones find it in the cache.
    assert (await client.get(url, headers=officer)).status_code == 200
    begun: list[bool] = []

    def on_begin(connection: Connection) -> None:
        begun.append(True)

    event.listen(workflow.db.engine.sync_engine, "begin", on_begin)
    try:
        assert (await client.get(url, headers=officer)).status_code == 200
    finally:
        event.remove(workflow.db.engine.sync_engine, "begin", on_begin)
    # The read and its line on the read trail went in one transaction.
    assert begun == [True]
    assert await views_of(workflow) == [(people.username(OFFICER), "read" if not path
                                         else path.strip("/").replace("events", "timeline"))] * 2
