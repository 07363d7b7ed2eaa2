"""Times read back from the database are aware and in UTC on every engine and driver."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select

from disclosure.models import Event, Request
from disclosure.workflow import Workflow
from tests.factories import new, utc


async def test_times_read_back_are_the_instants_written_in_utc(workflow: Workflow) -> None:
    view = await workflow.create(new(received_at="2026-07-01T09:30:00+01:00"), actor="officer.ann")
    async with workflow.db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # The session's own zone must not leak into what is read.
            await conn.exec_driver_sql("SET TIME ZONE 'Europe/London'")
        received = (await conn.execute(
            select(Request.received_at).where(Request.reference == view.reference)
        )).scalar_one()
        occurred = (await conn.execute(
            select(Event.occurred_at).join(Request).where(Request.reference == view.reference)
        )).scalar_one()
    for value in (received, occurred):
        assert value == utc("2026-07-01T08:30:00Z")
        assert value.tzinfo is UTC
