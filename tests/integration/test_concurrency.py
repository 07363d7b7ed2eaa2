"""Two people acting on the same request at once: exactly one wins, nothing is half-written."""

from __future__ import annotations

import asyncio

import pytest

from disclosure import audit
from disclosure.db import Database
from disclosure.errors import StaleVersion
from disclosure.policy import load_policy_book
from disclosure.reads import ReadLog
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.factories import new, payload

ROUNDS = 15


@pytest.mark.parametrize("rounds", [ROUNDS])
async def test_conflicting_transitions_from_two_connections(
    workflow: Workflow, database_url: str, clock: FakeClock, rounds: int
) -> None:
    # A second service with its own engine: a separate connection, as a second app process.
    other = Workflow(Database(database_url), load_policy_book(None), now=clock)
    try:
        for _ in range(rounds):
            view = await workflow.create(new(), actor="officer.ann")
            outcomes = await asyncio.gather(
                workflow.apply(view.reference, payload("withdraw"), actor="officer.ann",
                               expected_version=1),
                other.apply(view.reference, payload("complete_initial_checks"),
                            actor="officer.cat", expected_version=1),
                return_exceptions=True,
            )
            won = [o for o in outcomes if not isinstance(o, BaseException)]
            lost = [o for o in outcomes if isinstance(o, BaseException)]
            assert len(won) == 1 and len(lost) == 1, outcomes
            assert isinstance(lost[0], StaleVersion)
            after = await workflow.get(view.reference)
            assert after.version == 2 and after.state == won[0].state
            events = await workflow.events(view.reference)
            assert [e.event for e in events] == ["receive", won[0].event]
        assert (await audit.verify(workflow.db)).ok
    finally:
        await other.db.dispose()


async def test_concurrent_receipts_get_distinct_references(workflow: Workflow) -> None:
    views = await asyncio.gather(*(workflow.create(new(), actor="officer.ann") for _ in range(12)))
    references = sorted(v.reference for v in views)
    assert references == [f"DVDS-2026-{n:06d}" for n in range(1, 13)]


async def test_same_idempotency_key_at_once_makes_one_request(workflow: Workflow) -> None:
    views = await asyncio.gather(*(
        workflow.create(new(), actor="officer.ann", idempotency_key="retry-1") for _ in range(6)
    ))
    assert len({v.reference for v in views}) == 1


async def test_many_readers_of_one_request_at_once_are_each_on_the_read_trail(
    workflow: Workflow, database_url: str, clock: FakeClock
) -> None:
    # Twenty reads at once, over two engines as two app processes: every one is logged, in
    # one unbroken chain (they used to race for the next seq and give up after five tries).
    view = await workflow.create(new(), actor="officer.ann")
    other = Workflow(Database(database_url), load_policy_book(None), now=clock)
    try:
        logs = [ReadLog(w.db, now=clock) for w in (workflow, other)]
        await asyncio.gather(*(
            logs[i % 2].record(view.reference, viewer=f"officer.{i}", endpoint="read")
            for i in range(20)
        ))
        page = await logs[0].list(view.reference, limit=100)
        assert [v.seq for v in page.items] == list(range(1, 21))
        assert {v.viewer for v in page.items} == {f"officer.{i}" for i in range(20)}
        assert (await audit.verify(workflow.db)).ok
    finally:
        await other.db.dispose()
