"""Migration 0016 makes, from the trail, the stage times the workflow now writes with each
event: for the requests held before it, the same rows the workflow would have written."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from sqlalchemy import select

from disclosure.migrations import alembic_config, upgrade
from disclosure.models import StageTime
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.reports_dataset import build


async def _stage_times(workflow: Workflow) -> list[tuple[Any, ...]]:
    async with workflow.db.read() as session:
        return [tuple(row) for row in await session.execute(
            select(*StageTime.__table__.c).order_by(StageTime.request_id, StageTime.seq))]


async def test_the_stage_times_made_from_the_trail_are_those_the_workflow_writes(
    workflow: Workflow, clock: FakeClock, database_url: str,
) -> None:
    # A reopened request, one carried on as right to know, an urgent disclosure, a MAPPA
    # request a meeting started, a withdrawal entered late; stages with targets in hours and
    # in working days, and stages with none.
    await build(workflow, clock)
    written = await _stage_times(workflow)
    await workflow.db.dispose()

    def again() -> None:
        command.downgrade(alembic_config(database_url), "0015")
        upgrade(database_url)

    await asyncio.to_thread(again)
    made = await _stage_times(workflow)
    assert made == written
    states = {row[5] for row in written}
    assert {"received", "awaiting_meeting", "checks", "awaiting_decision", "awaiting_delivery",
            "awaiting_notice", "closed"} <= states
    # Every stage with a target got its due date: the initial checks in hours, the meeting in
    # working days; a stage without one has none.
    due = {(row[5], row[9] is not None) for row in written}
    assert {("received", True), ("awaiting_meeting", True), ("checks", False)} <= due
