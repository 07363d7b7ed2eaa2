"""The public form's rate limits hold when applications arrive at once, from several app
processes: no more are admitted than the limits allow."""

from __future__ import annotations

import asyncio

from disclosure.db import Database
from disclosure.online import OnlineApplications, OnlineLimits
from disclosure.workflow import Workflow
from tests.conftest import FakeClock

AT_ONCE = 24


async def test_applications_sent_at_once_from_one_address_are_admitted_up_to_its_limit(
    workflow: Workflow, database_url: str, clock: FakeClock,
) -> None:
    limits = OnlineLimits(per_source_per_hour=3, per_hour=100)
    # Three engines, as three app processes, each sending its share at the same moment.
    engines = [workflow.db, Database(database_url), Database(database_url)]
    try:
        forms = [OnlineApplications(db, limits, now=clock) for db in engines]
        admitted = await asyncio.gather(*(
            forms[i % len(forms)].admit("203.0.113.9") for i in range(AT_ONCE)))
        assert admitted.count(True) == 3
        # Another address still has its own allowance.
        assert await forms[0].admit("198.51.100.4")
    finally:
        for db in engines[1:]:
            await db.dispose()


async def test_applications_sent_at_once_are_admitted_up_to_the_hours_limit(
    workflow: Workflow, database_url: str, clock: FakeClock,
) -> None:
    limits = OnlineLimits(per_source_per_hour=100, per_hour=5)
    engines = [workflow.db, Database(database_url)]
    try:
        forms = [OnlineApplications(db, limits, now=clock) for db in engines]
        admitted = await asyncio.gather(*(
            forms[i % len(forms)].admit(f"192.0.2.{i}") for i in range(AT_ONCE)))
        assert admitted.count(True) == 5
        clock.advance(hours=1, seconds=1)
        assert await forms[1].admit("192.0.2.200")
    finally:
        await engines[1].dispose()
