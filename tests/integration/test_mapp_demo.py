"""The demo's MAPPA caseload: mostly Level 1, meetings every few weeks for Levels 2 and 3, some
reviews overdue and some minutes in draft, every trail sound."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from disclosure import audit
from disclosure.cli import main
from disclosure.db import Database
from disclosure.mapp import demo
from disclosure.mapp.meetings import Filters, Meetings
from disclosure.models import Meeting, Nominal, Request
from disclosure.policy import load_policy_book
from disclosure.workflow import Workflow
from tests.conftest import FakeClock


async def test_demo_caseload_is_realistic_and_verifies(
    workflow: Workflow, clock: FakeClock
) -> None:
    summary = await demo.seed(workflow, areas=["derbyshire"], nominals=14, seed=5)
    async with workflow.db.read() as session:
        levels = dict((await session.execute(
            select(Nominal.level, func.count()).group_by(Nominal.level))).all())
        meetings = dict((await session.execute(
            select(Meeting.state, func.count()).group_by(Meeting.state))).all())
        started = await session.scalar(
            select(func.count()).select_from(Request).where(Request.meeting_id.is_not(None)))
    assert summary.nominals == 14 and sum(levels.values()) == 14
    # Mostly Level 1; the area's first three at Level 3, Level 2, and Level 2 in custody.
    assert levels[1] > 14 // 2 and levels[2] >= 2 and levels[3] >= 1
    assert summary.meetings == sum(meetings.values()) > 10
    assert meetings["finalised"] > meetings["draft"] >= 1
    assert started == summary.disclosures
    chase = Meetings(workflow)
    overdue = await chase.search(Filters(overdue_review=True), limit=50, cursor=None)
    drafts = await chase.search(Filters(draft_older_than_days=14), limit=50, cursor=None)
    assert overdue.items and drafts.items
    verdict = await audit.verify(workflow.db)
    assert verdict.ok, verdict.problems
    assert verdict.nominals_checked == 14

    # A second run adds to the first: references follow on.
    again = await demo.seed(workflow, areas=["derbyshire"], nominals=3, seed=5)
    assert again.nominals == 3


async def _seeded(url: str) -> None:
    clock = FakeClock(datetime(2026, 11, 7, 12, tzinfo=UTC))
    workflow = Workflow(Database(url), load_policy_book(None), now=clock)
    await demo.seed(workflow, areas=["derbyshire"], nominals=6, seed=2)
    await workflow.db.dispose()


def test_the_cli_lists_the_chase_lists_and_verifies_the_nominals(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    asyncio.run(_seeded(database_url))
    assert main(["meetings", "list", "--area", "derbyshire", "--overdue-review"]) == 0
    overdue = capsys.readouterr().out.splitlines()
    assert overdue[-1].endswith("meetings") or overdue[-1] == "1 meeting"
    assert all("(review overdue" in line for line in overdue[:-1]) and overdue[:-1]
    assert main(["meetings", "list", "--level", "3"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[:-1] and all(" level 3 " in line for line in listed[:-1])
    assert main(["audit", "verify"]) == 0
    assert "MAPPA nominals" in capsys.readouterr().out
