"""Demo data: every state and outcome, spread over areas and years, with a sound audit trail."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from disclosure import audit, demo
from disclosure.demo import AREAS, seed
from disclosure.models import (
    Base,
    Closure,
    Decision,
    DecisionRecipient,
    Event,
    Party,
    Request,
)
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
DIVISIONS = {(area, division) for area, divisions in AREAS.items() for division in divisions}


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
    # Many areas, each request in one of its area's divisions.
    assert divisions <= DIVISIONS and len(divisions) > 30
    assert {area for area, _ in divisions} == set(AREAS)
    # Ten years of history, more requests each year than ten years before.
    years = Counter(r.year for r in received)
    assert min(years) <= today.year - 9 and max(years) == today.year and len(years) >= 10
    assert years[today.year - 1] > years[today.year - 9]
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


async def test_the_demo_holds_every_record_type(workflow: Workflow, clock: FakeClock) -> None:
    await seed(workflow, requests=120, seed=9, today=clock())
    counts = {}
    async with workflow.db.read() as session:
        for name, table in Base.metadata.tables.items():
            counts[name] = await session.scalar(select(func.count()).select_from(table))
        several = await session.scalar(select(func.count()).select_from(
            select(DecisionRecipient.decision_id).group_by(DecisionRecipient.decision_id)
            .having(func.count() > 1).subquery()))
        urgent = await session.scalar(select(func.count()).where(Decision.urgent.is_(True)))
        settled = set(await session.scalars(select(DecisionRecipient.settlement)))
        continued = await session.scalar(select(func.count()).where(
            Request.continued_from_id.is_not(None)))
        schemes = set((await session.execute(select(Request.scheme, Request.route))).all())
    made = {"requests", "parties", "checks", "partner_requests", "decisions",
            "decision_recipients", "deliveries", "notices", "subject_told", "extensions",
            "closures", "events", "seals", "search_terms", "request_links", "alerts",
            "alert_requests", "request_counts", "reference_counters", "users", "areas",
            "divisions"}
    assert {name for name in made if counts[name] == 0} == set()
    assert several and urgent and continued
    assert {"delivered", "declined"} <= settled or {"delivered", "not_found"} <= settled
    assert schemes == {("dvds", "right_to_ask"), ("dvds", "right_to_know"),
                       ("csods", "right_to_ask"), ("csods", "right_to_know"),
                       ("mappa", "right_to_know")}
    assert (await audit.verify(workflow.db)).ok


async def test_events_are_recorded_in_order_after_what_they_record(
    workflow: Workflow, clock: FakeClock
) -> None:
    summary = await seed(workflow, requests=120, seed=3, today=clock())
    async with workflow.db.read() as session:
        rows = (await session.execute(
            select(Event.request_id, Event.occurred_at, Event.recorded_at,
                   Event.payload, Request.received_at)
            .join(Request, Request.id == Event.request_id)
            .order_by(Event.request_id, Event.seq)
        )).all()
    previous: dict[int, datetime] = {}
    late = 0
    for request_id, occurred_at, recorded_at, payload, received_at in rows:
        assert received_at <= occurred_at <= recorded_at
        assert recorded_at >= previous.get(request_id, received_at)
        previous[request_id] = recorded_at
        late += recorded_at - occurred_at >= timedelta(days=1)
        for name in HAPPENED_AT:
            if payload and payload.get(name):
                assert datetime.fromisoformat(payload[name]) == occurred_at, (name, payload)
    # Now and then a meeting or a delivery is written up days after it happened.
    assert 0 < late < len(rows) // 10
    assert summary.entered_late > 0


async def test_the_demo_adds_and_amends_parties_and_reopens_with_categories(
    workflow: Workflow, clock: FakeClock
) -> None:
    summary = await seed(workflow, requests=300, seed=5, today=clock())
    async with workflow.db.read() as session:
        events = dict((await session.execute(
            select(Event.event, func.count()).group_by(Event.event))).all())
        categories = set(await session.scalars(
            select(Closure.reopen_category).where(Closure.reopen_category.is_not(None))))
        earlier = await session.scalar(select(func.count()).select_from(Closure).where(
            Closure.reopened_at.is_not(None), Closure.outcome.is_not(None)))
    assert summary.parties_added == events["add_party"] > 0
    assert summary.parties_amended == events["amend_party"] > 0
    # A few in a hundred requests change a party; fewer still are reopened.
    assert events["amend_party"] < summary.requests // 5
    assert summary.reopened == events["reopen"] == earlier > 0
    assert categories <= {"new_information", "applicant_reengaged", "closed_in_error",
                          "review_or_complaint", "other"}
    assert categories


async def test_the_same_seed_gives_the_same_demo(workflow: Workflow, clock: FakeClock) -> None:
    today = datetime(2026, 6, 1, 12, tzinfo=UTC)
    first = await seed(workflow, requests=30, seed=11, today=today)
    again = await seed(workflow, requests=30, seed=11, today=today)
    other = await seed(workflow, requests=30, seed=12, today=today)
    assert first == again
    assert first != other


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_the_demo_analyses_what_it_has_loaded_before_the_receipts_that_raise_alerts(
    workflow: Workflow, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Receipts of the last days each search the names written before them: PostgreSQL must
    # know how many there are by then, not hold the statistics of the empty tables.
    monkeypatch.setattr(demo, "CHUNK", 50)
    async with workflow.db.engine.begin() as conn:
        await conn.execute(text("ANALYZE requests"))
    summary = await seed(workflow, requests=300, seed=7, today=clock())
    async with workflow.db.engine.connect() as conn:
        known = await conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'requests'"))
        # The distinct names each search scores first, in one partition per group of areas.
        names = await conn.scalar(text(
            "SELECT sum(greatest(c.reltuples, 0)) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'search_names'::regclass"))
    # Analysed once the earlier chunks were written, before the last ones.
    assert 0 < known < summary.requests
    assert names > 0
