"""Due dates through the service: policy versions, stages, extensions, explanations, queues."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from disclosure.errors import GuardRefused
from disclosure.models import Extension
from disclosure.workflow import Filters, Workflow
from tests.conftest import FakeClock
from tests.factories import new, payload, utc

OFFICER = "officer.ann"


async def receive(workflow: Workflow, received_at: str, **overrides: object) -> str:
    view = await workflow.create(new(received_at=received_at, **overrides), actor=OFFICER)
    return view.reference


async def send(workflow: Workflow, reference: str, event: str, **fields: object) -> int:
    version = (await workflow.get(reference)).version
    result = await workflow.apply(
        reference, payload(event, **fields), actor=OFFICER, expected_version=version
    )
    return result.version


async def test_dvds_2016_request_keeps_35_days_after_the_2023_version(workflow: Workflow) -> None:
    reference = await receive(workflow, "2023-03-31T09:00:00Z")
    await send(workflow, reference, "complete_initial_checks")
    view = await workflow.get(reference)
    assert view.policy_version == "dvds-2016"
    assert view.due_at == utc("2023-05-05T22:59:59.999999Z")
    clock = await workflow.clock(reference)
    assert clock.overall is not None
    assert clock.overall.explanation == (
        "Due by 23:59 on Friday 5 May 2023: received 10:00 Friday 31 March 2023, "
        "plus 35 calendar days."
    )
    assert clock.stages == []


async def test_dvds_request_received_the_day_after_gets_28_days(workflow: Workflow) -> None:
    reference = await receive(workflow, "2023-04-01T09:00:00Z")
    view = await workflow.get(reference)
    assert view.policy_version == "dvds-2023"
    assert view.due_at == utc("2023-04-29T22:59:59.999999Z")
    assert [e.policy_version for e in await workflow.events(reference)] == ["dvds-2023"]


async def test_each_stage_has_its_own_due_date(workflow: Workflow) -> None:
    reference = await receive(workflow, "2026-11-02T09:00:00Z")
    view = await workflow.get(reference)
    assert (view.stage, view.stage_due_at) == ("initial_checks", utc("2026-11-03T09:00:00Z"))
    await send(workflow, reference, "complete_initial_checks", immediate_risk=True)
    view = await workflow.get(reference)
    assert view.immediate_risk
    assert (view.stage, view.stage_due_at) == ("meeting", utc("2026-11-16T23:59:59.999999Z"))
    clock = await workflow.clock(reference)
    assert [(s.stage, s.current, s.status) for s in clock.stages] == [
        ("initial_checks", False, None), ("meeting", True, "on_time"),
    ]
    assert clock.stages[1].explanation == (
        "Due by 23:59 on Monday 16 November 2026: initial checks completed 12:00 Monday "
        "2 November 2026, plus 10 working days in England, skipping 4 weekend days."
    )


async def test_extension_within_the_cap_moves_the_due_date_on_the_trail(
    workflow: Workflow,
) -> None:
    reference = await receive(workflow, "2026-11-02T09:00:00Z")
    await send(workflow, reference, "extend_deadline", days=7)
    assert (await workflow.get(reference)).due_at == utc("2026-12-07T23:59:59.999999Z")
    extended = (await workflow.events(reference))[-1]
    assert extended.payload is not None
    assert (extended.payload["old_due_at"], extended.payload["new_due_at"]) == (
        "2026-11-30T23:59:59.999999Z", "2026-12-07T23:59:59.999999Z",
    )
    async with workflow.db.read() as session:
        row = await session.scalar(select(Extension))
    assert row is not None
    assert (row.old_due_at, row.new_due_at) == (
        utc("2026-11-30T23:59:59.999999Z"), utc("2026-12-07T23:59:59.999999Z"),
    )
    clock = await workflow.clock(reference)
    assert clock.overall is not None
    assert [(e.days, e.category) for e in clock.overall.extensions] == [
        (7, "partner_agency_delay"),
    ]
    assert clock.overall.explanation.endswith(
        "plus 28 calendar days, plus a 7-day extension (Probation have not answered)."
    )


async def test_extension_beyond_the_cap_is_refused_and_writes_nothing(
    workflow: Workflow,
) -> None:
    reference = await receive(workflow, "2026-11-02T09:00:00Z")
    version = await send(workflow, reference, "extend_deadline", days=21)
    with pytest.raises(GuardRefused) as refused:
        await send(workflow, reference, "extend_deadline", days=8)
    assert refused.value.reason == (
        "the extensions would total 29 days, over the policy cap of 28 days (dvds-2023)"
    )
    view = await workflow.get(reference)
    assert (view.version, view.due_at) == (version, utc("2026-12-21T23:59:59.999999Z"))
    async with workflow.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Extension)) == 1


async def test_mappa_request_has_no_due_date_to_extend_before_the_meeting(
    workflow: Workflow,
) -> None:
    reference = await receive(
        workflow, "2026-11-02T09:00:00Z", scheme="mappa", route="right_to_know"
    )
    with pytest.raises(GuardRefused, match="until the MAPP meeting agrees one"):
        await send(workflow, reference, "extend_deadline")


async def refs(workflow: Workflow, filters: Filters, limit: int = 1) -> list[str]:
    """Every page of a listing, followed by its cursor."""
    found: list[str] = []
    cursor: str | None = None
    while True:
        page = await workflow.search(filters, limit=limit, cursor=cursor)
        found += [item.reference for item in page.items]
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def test_queues_put_immediate_risk_first_then_the_soonest_due(
    workflow: Workflow, clock: FakeClock
) -> None:
    oldest = await receive(workflow, "2026-09-20T09:00:00Z")
    older = await receive(workflow, "2026-10-01T09:00:00Z")
    at_risk = await receive(workflow, "2026-10-03T09:00:00Z")
    await send(workflow, at_risk, "complete_initial_checks", immediate_risk=True)
    recent = await receive(workflow, "2026-11-01T09:00:00Z")

    assert await refs(workflow, Filters(queue="overdue")) == [at_risk, oldest, older]
    assert await refs(workflow, Filters(stage="initial_checks", queue="overdue")) == [
        oldest, older, recent,
    ]
    assert await refs(workflow, Filters(stage="meeting"), limit=5) == [at_risk]
    assert await refs(workflow, Filters(queue="due_soon")) == []
    clock.advance(days=18)
    assert await refs(workflow, Filters(queue="due_soon")) == [recent]
    await send(workflow, older, "withdraw")
    assert await refs(workflow, Filters(queue="overdue")) == [at_risk, oldest]


async def assert_due_dates_as_the_clock_works_them_out(workflow: Workflow, reference: str) -> None:
    view = await workflow.get(reference)
    clock = await workflow.clock(reference)
    current = [s.due_at for s in clock.stages if s.current]
    assert view.due_at == (clock.overall.due_at if clock.overall else None)
    assert view.stage_due_at == (current[0] if current else None)


async def test_the_due_dates_stored_after_every_event_are_the_clocks(workflow: Workflow) -> None:
    """Events that stay in their state keep the due dates they find (the clock is not read
    again) unless they write what a clock is worked out from, such as an extension; either
    way the request's due dates are its clock's."""
    reference = await receive(workflow, "2026-11-02T09:00:00Z")
    for event, fields in [
        ("complete_initial_checks", {}), ("record_meeting", {}), ("record_check", {}),
        ("extend_deadline", {"days": 7}), ("record_check", {}), ("complete_checks", {}),
        ("extend_deadline", {"days": 5}),
    ]:
        before = await workflow.get(reference)
        await send(workflow, reference, event, **fields)
        await assert_due_dates_as_the_clock_works_them_out(workflow, reference)
        after = await workflow.get(reference)
        if event == "extend_deadline":
            assert after.due_at is not None and before.due_at is not None
            assert after.due_at > before.due_at
