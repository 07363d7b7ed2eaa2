"""Demo data: every state and outcome, spread over areas and years, with a sound audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from disclosure import audit
from disclosure.demo import seed
from disclosure.models import Event, Party, Request
from disclosure.workflow import Filters, Workflow
from tests.conftest import FakeClock

RIGHT_TO_ASK_STATES = {
    "received", "awaiting_meeting", "checks", "awaiting_decision", "awaiting_delivery",
    "awaiting_notice", "closed",
}
RIGHT_TO_KNOW_STATES = {"received", "checks", "awaiting_decision", "awaiting_delivery", "closed"}
OUTCOMES = {
    "not_progressed_criteria", "not_progressed_duplicate", "identity_not_verified", "withdrawn",
    "no_engagement", "immediate_action", "no_information", "not_necessary_proportionate",
    "disclosed_to_person_at_risk", "disclosed_to_other", "disclosure_not_delivered",
    "referred_safeguarding",
}
# Payload fields saying when the recorded thing happened.
HAPPENED_AT = ("held_at", "checked_at", "asked_at", "responded_at", "decided_at", "delivered_at",
               "given_at", "taken_at")
DIVISIONS = {
    ("derbyshire", "north"), ("derbyshire", "south"), ("derbyshire", "city"),
    ("cumbria", "west"), ("cumbria", "south"), ("cumbria", "north_east"),
    ("durham_darlington", "north"), ("durham_darlington", "south"),
}


@pytest.mark.slow
async def test_demo_covers_every_state_and_outcome_with_a_sound_trail(
    workflow: Workflow, clock: FakeClock
) -> None:
    today = clock()
    summary = await seed(workflow, requests=300, seed=7, today=today)

    assert workflow.now is clock, "the workflow keeps its own clock"
    async with workflow.db.read() as session:
        states = set((await session.execute(select(Request.route, Request.state))).all())
        outcomes = set(await session.scalars(select(Request.outcome).where(
            Request.outcome.is_not(None))))
        divisions = set((await session.execute(select(Request.area, Request.division))).all())
        received = list(await session.scalars(select(Request.received_at)))
        last_event = await session.scalar(select(func.max(Event.occurred_at)))
        events = await session.scalar(select(func.count()).select_from(Event))
        applicants = set(await session.scalars(
            select(Party.relationship).where(Party.role == "applicant")))
    verdict = await audit.verify(workflow.db)

    assert {s for r, s in states if r == "right_to_ask"} == RIGHT_TO_ASK_STATES
    assert {s for r, s in states if r == "right_to_know"} == RIGHT_TO_KNOW_STATES
    assert outcomes == OUTCOMES
    assert divisions == DIVISIONS
    assert len({r.year for r in received}) >= 3
    assert max(received) <= today and last_event is not None and last_event <= today
    assert {"self", "mother", "friend", "sibling"} <= applicants
    assert summary.continued > 0
    assert verdict.ok and verdict.requests_checked == 300 + summary.continued
    assert verdict.events_checked == events
    overdue = await workflow.search(Filters(overdue=True), limit=1, cursor=None)
    assert overdue.items, "some open requests are overdue"

    assert summary.requests == 300 and summary.events == events
    assert summary.by_scheme["dvds"] > 10 * summary.by_scheme["csods"] > 0
    assert summary.by_scheme["mappa"] > 0
    assert summary.by_route["right_to_ask"] > summary.by_route["right_to_know"]
    assert set(summary.by_outcome) == OUTCOMES
    assert sum(summary.by_state.values()) == 300


async def test_events_are_recorded_in_order_after_what_they_record(
    workflow: Workflow, clock: FakeClock
) -> None:
    await seed(workflow, requests=60, seed=3, today=clock())
    async with workflow.db.read() as session:
        rows = (await session.execute(
            select(Event.request_id, Event.occurred_at, Event.payload, Request.received_at)
            .join(Request, Request.id == Event.request_id)
            .order_by(Event.request_id, Event.seq)
        )).all()
    previous: dict[int, datetime] = {}
    for request_id, occurred_at, payload, received_at in rows:
        assert occurred_at >= previous.get(request_id, received_at)
        previous[request_id] = occurred_at
        for name in HAPPENED_AT:
            if payload and payload.get(name):
                assert datetime.fromisoformat(payload[name]) <= occurred_at, (name, payload)


async def test_the_same_seed_gives_the_same_demo(workflow: Workflow, clock: FakeClock) -> None:
    today = datetime(2026, 6, 1, 12, tzinfo=UTC)
    first = await seed(workflow, requests=30, seed=11, today=today)
    again = await seed(workflow, requests=30, seed=11, today=today)
    other = await seed(workflow, requests=30, seed=12, today=today)
    assert first == again
    assert first != other
