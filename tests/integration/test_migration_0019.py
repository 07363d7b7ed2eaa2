"""Migration 0019 makes, from the closures, the closure times the workflow now writes with
each closing: for the closures held before it, the rows the workflow would have written."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from sqlalchemy import select

from disclosure.migrations import alembic_config, upgrade
from disclosure.models import Closure, ClosureTime, Request
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.reports_dataset import build

COLUMNS = [c.name for c in ClosureTime.__table__.c]


async def _closure_times(workflow: Workflow) -> list[dict[str, Any]]:
    async with workflow.db.read() as session:
        return [dict(zip(COLUMNS, row, strict=True)) for row in await session.execute(
            select(*ClosureTime.__table__.c)
            .order_by(ClosureTime.request_id, ClosureTime.seq))]


async def test_the_closure_times_made_from_the_closures_are_those_the_workflow_writes(
    workflow: Workflow, clock: FakeClock, database_url: str,
) -> None:
    # A reopened request closed twice, one carried on as right to know, a withdrawal entered
    # late, an urgent disclosure.
    await build(workflow, clock)
    written = await _closure_times(workflow)
    async with workflow.db.read() as session:
        closures = (await session.execute(select(Closure.request_id, Closure.seq))).all()
        reopened = set((await session.execute(
            select(Closure.request_id, Closure.seq).where(Closure.reopened_seq.is_not(None))
        )).all())
        due = dict((await session.execute(select(Request.id, Request.due_at))).all())
    await workflow.db.dispose()

    def again() -> None:
        command.downgrade(alembic_config(database_url), "0018")
        upgrade(database_url)

    await asyncio.to_thread(again)
    made = await _closure_times(workflow)
    assert [(r["request_id"], r["seq"]) for r in written] == sorted(closures)
    assert reopened, "the dataset reopens a request"
    assert {r["event"] for r in written} >= {"withdraw", "continue_as_right_to_know"}
    for before, after in zip(written, made, strict=True):
        if (before["request_id"], before["seq"]) in reopened:
            # Its due date when it closed was not kept: the request's current one stands in.
            assert after == before | {"due_at": due[before["request_id"]]}
        else:
            assert after == before
    # The closing after a reopening runs from the reopening, not from the receipt.
    again_closed = [r for r in made if any(r["request_id"] == rid for rid, _ in reopened)]
    assert len({r["started_at"] for r in again_closed}) == len(again_closed) >= 2
