"""The workflow's batch path writes what applying the same events one by one writes, and
refuses a batch with an illegal step without writing any of it."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

from disclosure import audit, seals
from disclosure.batch import History, Received, Step, batch
from disclosure.db import Database
from disclosure.demo import Desk, _accounts, _plans, _Tally, tell
from disclosure.errors import InvalidInput
from disclosure.migrations import upgrade
from disclosure.models import Base, Event, Request, RequestCount
from disclosure.policy import load_policy_book
from disclosure.schemas import EventIn, NewRequest, PartyView, Transitioned
from disclosure.workflow import Workflow
from statemachines.lifecycle import EventNotAllowed, GuardRefused
from tests.conftest import POSTGRES_URL, FakeClock, scratch_database
from tests.factories import new, new_request, payload, utc

# What a request's records are: the request, every sealed table, its trail with the stage and
# closure times it gives, what finding people derives from it, and the counts. Unsealed rows
# that nothing refers to are compared without the ids the database gives them.
CASEWORK = ("requests", *(t.name for t in seals.REQUEST_SEALED if t.name != "requests"))
DERIVED = {"events": "id", "stage_times": None, "closure_times": None, "seals": "id",
           "search_terms": "id", "request_links": "id"}
COUNTED = ("alerts", "alert_requests", "request_counts", "reference_counters")


class OneByOne:
    """The demo's stories told through `Workflow.create` and `apply`, one change at a time."""

    def __init__(self, workflow: Workflow, clock: FakeClock) -> None:
        self.workflow = workflow
        self.clock = clock

    async def create(
        self, new: NewRequest, *, actor: str, recorded_at: datetime | None = None
    ) -> Received:
        assert recorded_at is not None
        self.clock.current = recorded_at
        view = await self.workflow.create(new, actor=actor)
        return Received(reference=view.reference, version=view.version, parties=view.parties)

    async def apply(
        self, reference: str, payload: EventIn, *, actor: str, expected_version: int,
        recorded_at: datetime | None = None,
    ) -> Transitioned:
        assert recorded_at is not None
        self.clock.current = recorded_at
        return await self.workflow.apply(
            reference, payload, actor=actor, expected_version=expected_version
        )

    async def parties(self, reference: str) -> list[PartyView]:
        return (await self.workflow.get(reference)).parties

    async def partner_requests(self, reference: str) -> list[int]:
        table = Base.metadata.tables["partner_requests"]
        async with self.workflow.db.read() as session:
            return list(await session.scalars(
                select(table.c.id).join(Request, Request.id == table.c.request_id)
                .where(Request.reference == reference).order_by(table.c.id)
            ))


class Salts:
    """The trail's salts from a counter, so that two runs of the same events chain alike."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.counter = itertools.count()

    def __call__(self) -> str:
        return f"{next(self.counter):032x}"


@pytest.fixture
def salts(monkeypatch: pytest.MonkeyPatch) -> Salts:
    made = Salts()
    monkeypatch.setattr(audit, "new_salt", made)
    return made


@pytest.fixture
def other_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same engine, migrated."""
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
        upgrade(url)
        yield url
        return
    with scratch_database(POSTGRES_URL) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def other(other_url: str, clock: FakeClock) -> AsyncIterator[Workflow]:
    service = Workflow(Database(other_url), load_policy_book(None), now=clock)
    yield service
    await service.db.dispose()


async def _dump(workflow: Workflow) -> dict[str, list[tuple[Any, ...]]]:
    dumped = {}
    async with workflow.db.read() as session:
        for name in (*CASEWORK, *DERIVED, *COUNTED):
            table = Base.metadata.tables[name]
            columns = [c for c in table.columns if c.key != DERIVED.get(name)]
            rows = (await session.execute(select(*columns))).all()
            dumped[name] = sorted((tuple(row) for row in rows), key=repr)
    return dumped


async def _repeat_subject(desk: Desk, today: datetime) -> None:
    """Three applications about one man from three women: a repeat subject, whose date of
    birth on the first is corrected after the third came (the alert stands); a fourth about
    another man, to which he is added."""
    received = []
    for number, name in enumerate(("Amy Sample", "Beth Other", "Cara Third")):
        at = today - timedelta(days=3 - number)
        request = new_request(received_at=at.isoformat())
        request["parties"][0]["date_of_birth"] = "1980-01-01"
        request["parties"][1]["name"] = name
        received.append(await desk.create(
            msgspec.convert(request, NewRequest), actor="derbyshire.pc.ames", recorded_at=at
        ))
    first = received[0]
    await desk.apply(first.reference, payload(
        "amend_party", party_id=first.parties[0].id, changes={"date_of_birth": "1981-01-01"},
        reason="Corrected from the PNC record", occurred_at=today.isoformat(),
    ), actor="derbyshire.pc.ames", expected_version=1, recorded_at=today)
    # A fourth woman names another man; the officer then adds him as a subject, who counts
    # as if named at receipt.
    request = new_request(received_at=(today - timedelta(hours=12)).isoformat())
    request["parties"][0]["name"] = "Neil Unrelated"
    request["parties"][1]["name"] = "Dee Fourth"
    fourth = await desk.create(msgspec.convert(request, NewRequest), actor="derbyshire.pc.ames",
                               recorded_at=today - timedelta(hours=12))
    await desk.apply(fourth.reference, payload(
        "add_party", party={"role": "subject", "name": "SAMPLE, Mark",
                            "date_of_birth": "1980-01-01"},
        occurred_at=today.isoformat(),
    ), actor="derbyshire.pc.ames", expected_version=1, recorded_at=today)


async def test_the_batch_writes_what_applying_one_by_one_writes(
    workflow: Workflow, other: Workflow, clock: FakeClock, salts: Salts
) -> None:
    """The demo's stories, every state, outcome and record among them, told both ways."""
    today = clock()
    plans = _plans(random.Random(4), 60, today)
    await _accounts(workflow)
    await _accounts(other)

    alone = OneByOne(workflow, clock)
    one_by_one = _Tally()
    await tell(alone, plans, today, {}, one_by_one)
    await _repeat_subject(alone, today)
    clock.current = today
    salts.restart()
    async with batch(other) as desk:
        batched = _Tally()
        await tell(desk, plans, today, {}, batched)
        await _repeat_subject(desk, today)

    assert batched.summary() == one_by_one.summary()
    expected, written = await _dump(workflow), await _dump(other)
    for name in expected:
        assert written[name] == expected[name], name
    assert len(expected["requests"]) > 60
    assert {row[0] for row in expected["seals"]} == set(CASEWORK)
    assert expected["alerts"] and expected["request_links"] and expected["closures"]
    assert expected["stage_times"] and expected["closure_times"]
    verdict = await audit.verify(other.db)
    assert verdict.ok, verdict.problems
    assert verdict.requests_checked == len(expected["requests"])


async def _nothing_written(workflow: Workflow) -> None:
    async with workflow.db.read() as session:
        for model in (Request, Event, RequestCount):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
        sealed = Base.metadata.tables["seals"]
        assert await session.scalar(select(func.count()).select_from(sealed)) == 0
        counters = Base.metadata.tables["reference_counters"]
        assert await session.scalar(select(func.count()).select_from(counters)) == 0


def _story(events: list[tuple[str, dict[str, Any]]]) -> History:
    at = utc("2026-11-07T10:00:00Z")
    return History(
        request=new(), actor="derbyshire.pc.ames", recorded_at=at,
        events=[Step(payload=payload(event, **fields), actor="derbyshire.pc.ames",
                     recorded_at=at) for event, fields in events],
    )


GOOD = [("complete_initial_checks", {}), ("record_meeting", {})]


@pytest.mark.parametrize(("illegal", "refusal"), [
    # Not a step the lifecycle takes from where the request is.
    ([*GOOD, ("record_decision", {})], EventNotAllowed),
    # A step it takes, refused by a guard: checks completed with none recorded.
    ([*GOOD, ("complete_checks", {})], GuardRefused),
    # A time before the step that made it possible.
    ([("complete_initial_checks", {}),
      ("record_meeting", {"held_at": "2026-11-02T11:00:00Z"})], InvalidInput),
])
async def test_an_illegal_sequence_refuses_the_whole_batch_and_writes_nothing(
    workflow: Workflow, illegal: list[tuple[str, dict[str, Any]]], refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        async with batch(workflow) as desk:
            await desk.load([_story(GOOD), _story(illegal)])
    await _nothing_written(workflow)


async def test_a_batch_loads_histories_that_verify(workflow: Workflow) -> None:
    async with batch(workflow) as desk:
        references = await desk.load([_story(GOOD), _story([*GOOD, ("record_check", {})])])
    assert references == ["DVDS-2026-000001", "DVDS-2026-000002"]
    view = await workflow.get("DVDS-2026-000002")
    assert (view.state, view.version) == ("checks", 4)
    verdict = await audit.verify(workflow.db)
    assert verdict.ok and (verdict.requests_checked, verdict.events_checked) == (2, 7)
    # A request received alone afterwards takes the next number.
    alone = await workflow.create(new(), actor="derbyshire.pc.ames")
    assert alone.reference == "DVDS-2026-000003"


async def test_a_batch_changes_only_the_requests_it_received(workflow: Workflow) -> None:
    before = await workflow.create(new(), actor="derbyshire.pc.ames")
    with pytest.raises(LookupError):
        async with batch(workflow) as desk:
            await desk.apply(before.reference, payload("complete_initial_checks"),
                             actor="derbyshire.pc.ames", expected_version=1)

