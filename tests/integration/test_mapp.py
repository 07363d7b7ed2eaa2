"""MAPP panels through their services, on SQLite and PostgreSQL: nominals' dated history,
review intervals and late reviews, the consideration and the requests it starts, the trail."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import and_, func, select, text

from disclosure.audit import verify
from disclosure.db import Database
from disclosure.errors import InvalidInput, StaleVersion
from disclosure.mapp import trail
from disclosure.mapp.meetings import Filters, Meetings
from disclosure.mapp.nominals import Nominals
from disclosure.mapp.schemas import (
    STANDING_EVENTS,
    MeetingEvent,
    MeetingView,
    NewMeeting,
    NewNominal,
    NominalEvent,
    NominalView,
)
from disclosure.models import Decision, DecisionRecipient, Request
from disclosure.models import NominalEvent as NominalEventRow
from disclosure.policy import load_policy_book
from disclosure.workflow import Workflow
from statemachines.lifecycle import GuardRefused
from tests import factories
from tests.conftest import FakeClock

COORDINATOR = "j.pickering"


async def _nominal(workflow: Workflow, **overrides: Any) -> NominalView:
    return await Nominals(workflow).register(
        msgspec.convert(factories.new_nominal(**overrides), NewNominal), actor=COORDINATOR)


async def _meeting(workflow: Workflow, nominal_id: int, **overrides: Any) -> MeetingView:
    return await Meetings(workflow).create(
        msgspec.convert(factories.new_meeting(nominal_id, **overrides), NewMeeting),
        actor=COORDINATOR, area="derbyshire")


async def _change(workflow: Workflow, nominal: NominalView, **body: Any) -> NominalView:
    """A change sent with the nominal's current version (its meetings move it on too)."""
    current = await Nominals(workflow).get(nominal.id)
    return await Nominals(workflow).change(
        nominal.id, msgspec.convert(body, NominalEvent), actor=COORDINATOR,
        expected_version=current.version)


async def _send(workflow: Workflow, meeting: MeetingView, body: dict[str, Any]) -> MeetingView:
    return await Meetings(workflow).apply(
        meeting.id, msgspec.convert(body, MeetingEvent), actor=COORDINATOR,
        expected_version=meeting.version)


async def test_level_and_category_changes_are_dated_and_counted_as_they_stood(
    workflow: Workflow,
) -> None:
    nominal = await _nominal(workflow, level=2, category=2)
    nominal = await _change(workflow, nominal, event="change_level", level=3,
                            effective_at="2026-03-20T09:00:00Z", reason="Escalated")
    nominal = await _change(workflow, nominal, event="change_category", category=1,
                            effective_at="2026-06-01T09:00:00Z")
    nominal = await _change(workflow, nominal, event="change_level", level=2,
                            effective_at="2026-09-01T09:00:00Z")
    assert (nominal.level, nominal.category, nominal.version) == (2, 1, 4)
    assert [(h.event, h.level, h.category) for h in nominal.history] == [
        ("register", 2, 2), ("change_level", 3, 2), ("change_category", 3, 1),
        ("change_level", 2, 1),
    ]

    # The board's 31 March snapshot and the year's changes, counted by the documented rule.
    async def level_on(day: str) -> int:
        row = NominalEventRow
        async with workflow.db.read() as session:
            found = await session.scalar(
                select(row.level).where(
                    row.nominal_id == nominal.id, row.event.in_(tuple(STANDING_EVENTS)),
                    row.occurred_at <= factories.utc(day),
                ).order_by(row.occurred_at.desc(), row.seq.desc()).limit(1))
        assert found is not None
        return found

    assert await level_on("2026-03-31T23:59:59Z") == 3
    assert await level_on("2026-02-28T23:59:59Z") == 2
    # The same snapshot, set-based, over every nominal: one registered after the date is not
    # in it yet.
    later = await _nominal(workflow, reference="VISOR-2", managed_from="2026-05-01T09:00:00Z")
    async with workflow.db.read() as session:
        snapshot = (await session.execute(
            trail.standings(factories.utc("2026-03-31T23:59:59Z")))).all()
        now = (await session.execute(trail.standings(factories.utc("2026-11-01T00:00:00Z")))).all()
    assert [(r.nominal_id, r.area, r.category, r.level) for r in snapshot] == [
        (nominal.id, "derbyshire", 2, 3)]
    assert sorted((r.nominal_id, r.category, r.level) for r in now) == [
        (nominal.id, 1, 2), (later.id, 1, 3)]
    async with workflow.db.read() as session:
        changes = await session.scalar(select(func.count()).where(
            NominalEventRow.event == "change_level",
            and_(NominalEventRow.occurred_at >= factories.utc("2026-04-01T00:00:00Z"),
                 NominalEventRow.occurred_at < factories.utc("2027-04-01T00:00:00Z"))))
    assert changes == 1

    with pytest.raises(InvalidInput, match="before the nominal's last change"):
        await _change(workflow, nominal, event="change_rosh", rosh="high",
                      effective_at="2026-08-01T09:00:00Z")
    with pytest.raises(InvalidInput, match="level is 2 already"):
        await _change(workflow, nominal, event="change_level", level=2,
                      effective_at="2026-10-01T09:00:00Z")
    with pytest.raises(StaleVersion):
        await Nominals(workflow).change(
            nominal.id, msgspec.convert({"event": "change_rosh", "rosh": "high",
                                         "effective_at": "2026-10-01T09:00:00Z"}, NominalEvent),
            actor=COORDINATOR, expected_version=nominal.version - 1)


async def test_review_intervals_follow_level_and_where_the_nominal_was(
    workflow: Workflow,
) -> None:
    nominal = await _nominal(workflow, level=2)
    level_2 = await _meeting(workflow, nominal.id, held_at="2026-02-02T10:00:00Z", kind="initial")
    assert level_2.level == 2
    assert level_2.review_due_at == factories.utc("2026-02-02T10:00:00Z") + timedelta(weeks=16)
    nominal = await _change(workflow, nominal, event="change_level", level=3,
                            effective_at="2026-03-01T09:00:00Z")
    level_3 = await _meeting(workflow, nominal.id, held_at="2026-03-10T10:00:00Z")
    assert level_3.review_due_at == factories.utc("2026-03-10T10:00:00Z") + timedelta(weeks=8)
    assert level_3.review_policy == "mapp-review"
    # A meeting's level is the nominal's on the day it sat.
    with pytest.raises(InvalidInput, match="level 3 when the meeting sat"):
        await _meeting(workflow, nominal.id, held_at="2026-03-12T10:00:00Z", level=2)
    nominal = await _change(workflow, nominal, event="change_location", location="custody",
                            effective_at="2026-04-01T09:00:00Z", reason="Recalled")
    in_custody = await _meeting(workflow, nominal.id, held_at="2026-04-20T10:00:00Z")
    assert (in_custody.location, in_custody.review_due_at) == ("custody", None)
    planned = await _meeting(workflow, nominal.id, held_at="2026-05-20T10:00:00Z",
                             next_review_by="2026-10-01T10:00:00Z")
    assert planned.review_due_at == factories.utc("2026-10-01T10:00:00Z")

    level_1 = await _nominal(workflow, reference="VISOR-1", level=1)
    with pytest.raises(InvalidInput, match="MAPP meetings are held at levels 2 and 3"):
        await _meeting(workflow, level_1.id)


async def test_late_reviews_are_flagged_and_listed(workflow: Workflow, clock: FakeClock) -> None:
    nominal = await _nominal(workflow)
    first = await _meeting(workflow, nominal.id, held_at="2026-06-01T10:00:00Z", kind="initial")
    # Due 27 July; held 10 August: late.
    second = await _meeting(workflow, nominal.id, held_at="2026-08-10T10:00:00Z")
    assert (first.held_late, second.held_late) == (False, True)
    meetings = Meetings(workflow)

    async def listed(**filters: Any) -> list[int]:
        page = await meetings.search(Filters(**filters), limit=50, cursor=None, area="derbyshire")
        return [m.id for m in page.items]

    # Second's review was due 5 October: overdue now (7 November); first's was answered.
    assert await listed(overdue_review=True) == [second.id]
    assert (await meetings.get(second.id)).review_overdue
    assert not (await meetings.get(first.id)).review_overdue
    assert await listed(overdue_review=False) == [first.id]
    # Both drafts, held months ago; a fresh draft is not yet chased.
    assert await listed(draft_older_than_days=30) == [second.id, first.id]
    third = await _meeting(workflow, nominal.id, held_at="2026-11-02T10:00:00Z")
    assert await listed(draft_older_than_days=30) == [second.id, first.id]
    assert await listed(overdue_review=True) == []
    assert await listed(level=2) == []
    assert await listed(held_from=factories.utc("2026-08-01T00:00:00Z")) == [third.id, second.id]

    # Dropped to Level 1, the nominal needs no review: nothing is overdue.
    clock.advance(days=120)
    assert await listed(overdue_review=True) == [third.id]
    nominal = (await Nominals(workflow).get(nominal.id))
    await _change(workflow, nominal, event="change_level", level=1,
                  effective_at="2027-01-10T09:00:00Z")
    assert await listed(overdue_review=True) == []

    page = await meetings.search(Filters(), limit=2, cursor=None, area="derbyshire")
    rest = await meetings.search(Filters(), limit=2, cursor=page.next_cursor, area="derbyshire")
    assert [m.id for m in page.items + rest.items] == [third.id, second.id, first.id]
    assert rest.next_cursor is None


async def test_the_consideration_starts_requests_linked_both_ways(workflow: Workflow) -> None:
    nominal = await _nominal(workflow)
    meeting = await _meeting(workflow, nominal.id)
    with pytest.raises(GuardRefused, match="without its disclosure consideration"):
        await _send(workflow, meeting, {"event": "finalise"})
    meeting = await _send(workflow, meeting, factories.consideration())
    assert meeting.consideration == "disclose" and meeting.version == 2
    references = [r.reference for r in meeting.requests]
    for reference in references:
        request = await workflow.get(reference)
        assert (request.meeting_id, request.state, request.route) == (
            meeting.id, "awaiting_delivery", "right_to_know")
        subject = next(p for p in request.parties if p.role == "subject")
        assert (subject.name, subject.registered_sex_offender) == ("Darren Cole", True)
        events = await workflow.events(reference)
        assert [e.event for e in events] == ["receive", "record_panel_decision"]
    async with workflow.db.read() as session:
        decided = (await session.execute(
            select(Decision.forum, Decision.decision_maker, Decision.recorded_by,
                   Decision.subject_representations, DecisionRecipient.discloser,
                   DecisionRecipient.discloser_agency, DecisionRecipient.method,
                   DecisionRecipient.deliver_by)
            .join(DecisionRecipient, DecisionRecipient.decision_id == Decision.id)
            .order_by(Decision.id)
        )).all()
    assert [tuple(row) for row in decided] == [
        ("mapp_level_3", "Ch Supt Ann Ward", COORDINATOR, "He says she knows about his past",
         "DS Kay Lowe", "police", "in_person", factories.utc("2026-11-10T17:00:00Z")),
        ("mapp_level_3", "Ch Supt Ann Ward", COORDINATOR, "He says she knows about his past",
         "Sam Reid", "probation", "letter", factories.utc("2026-11-20T17:00:00Z")),
    ]
    viewed = await Nominals(workflow).get(nominal.id)
    assert [d.reference for d in viewed.disclosures] == references
    assert [m.id for m in viewed.meetings] == [meeting.id]

    with pytest.raises(GuardRefused, match="recorded already"):
        await _send(workflow, meeting, factories.consideration())
    finalised = await _send(workflow, meeting, {"event": "finalise"})
    assert (finalised.state, finalised.finalised_by) == ("finalised", COORDINATOR)
    verdict = await verify(workflow.db)
    assert verdict.ok, verdict.problems


async def test_a_refused_disclosure_writes_nothing(workflow: Workflow) -> None:
    nominal = await _nominal(workflow)
    meeting = await _meeting(workflow, nominal.id)
    body = factories.consideration()
    body["disclosures"][1]["legal_test"] = factories.LEGAL_TEST | {
        "proportionate": {"met": False, "rationale": "Too wide"}}
    with pytest.raises(GuardRefused, match="not met: proportionate"):
        await _send(workflow, meeting, body)
    async with workflow.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Request)) == 0
    unchanged = await Meetings(workflow).get(meeting.id)
    assert (unchanged.version, unchanged.consideration, unchanged.requests) == (1, None, [])
    # A recipient the recipient rule does not allow: the nominal himself is never told.
    body = factories.consideration()
    body["disclosures"][0]["recipients"][0]["relationship_code"] = "self"
    with pytest.raises(GuardRefused, match="may not receive this disclosure"):
        await _send(workflow, meeting, body)


async def test_no_disclosure_needs_its_rationale_and_amendments_keep_the_old_values(
    workflow: Workflow,
) -> None:
    nominal = await _nominal(workflow)
    meeting = await _meeting(workflow, nominal.id)
    with pytest.raises(msgspec.ValidationError, match="rationale"):
        msgspec.convert({"event": "record_consideration", "decision": "no_disclosure",
                         "representations_sought": True}, MeetingEvent)
    with pytest.raises(msgspec.ValidationError, match="representations_not_sought_reason"):
        msgspec.convert({"event": "record_consideration", "decision": "no_disclosure",
                         "rationale": "Managed by licence", "representations_sought": False},
                        MeetingEvent)
    meeting = await _send(workflow, meeting, {
        "event": "record_consideration", "decision": "no_disclosure",
        "rationale": "Risk managed by licence conditions", "representations_sought": False,
        "representations_not_sought_reason": "Telling him would alert him to the partner"})
    meeting = await _send(workflow, meeting, {"event": "add_action_points", "action_points": [
        {"action": "Check the address", "owner_agency": "housing", "owner": "Pat Moss",
         "due_at": "2026-10-20T17:00:00Z"}]})
    meeting = await _send(workflow, meeting, {"event": "finalise"})
    with pytest.raises(InvalidInput, match="already recorded"):
        await _send(workflow, meeting, {"event": "amend", "reason": "Check",
                                        "changes": {"chair": "Ch Supt Ann Ward"}})
    meeting = await _send(workflow, meeting, {
        "event": "amend", "reason": "The chair was the deputy", "changes": {
            "chair": "Supt Lee Varley", "chair_rank": "superintendent"},
        "action_points": [{"action": "Tell the school", "owner_agency": "education",
                           "owner": "Head of year", "due_at": "2026-11-20T17:00:00Z"}]})
    assert (meeting.chair, len(meeting.action_points)) == ("Supt Lee Varley", 3)
    amend = meeting.trail[-1]
    assert amend.event == "amend" and amend.payload is not None
    assert amend.payload["old"] == {"chair": "Ch Supt Ann Ward",
                                    "chair_rank": "chief_superintendent"}
    assert [e.event for e in meeting.trail] == [
        "record_meeting", "record_consideration", "add_action_points", "finalise", "amend"]
    with pytest.raises(StaleVersion):
        await Meetings(workflow).apply(
            meeting.id, msgspec.convert({"event": "amend", "reason": "x", "changes": {
                "chair": "Someone"}}, MeetingEvent), actor=COORDINATOR, expected_version=1)


async def test_an_edit_behind_the_services_back_is_found(workflow: Workflow) -> None:
    nominal = await _nominal(workflow)
    meeting = await _meeting(workflow, nominal.id)
    assert (await verify(workflow.db)).ok
    async with workflow.db.write() as session, session.begin():
        await session.execute(text("UPDATE meetings SET chair = 'Nobody' WHERE id = :id"),
                              {"id": meeting.id})
        await session.execute(text(
            "UPDATE nominal_events SET actor = 'someone' WHERE nominal_id = :id AND seq = 1"),
            {"id": nominal.id})
    verdict = await verify(workflow.db)
    problems = {(p.trail, p.problem) for p in verdict.problems}
    assert ("rows", f"meetings row {meeting.id} does not match its seal") in problems
    assert ("nominal_events", "event fields do not match its hash") in problems
    with pytest.raises(Exception, match="does not match its seal"):
        await _send(workflow, meeting, {"event": "add_action_points", "action_points": [
            {"action": "x", "owner_agency": "police", "owner": "y",
             "due_at": "2026-11-20T17:00:00Z"}]})


async def test_two_coordinators_recording_at_once_never_both_win(
    workflow: Workflow, database_url: str, clock: FakeClock
) -> None:
    # A second service with its own engine: a separate connection, as a second app process.
    other = Workflow(Database(database_url), load_policy_book(None), now=clock)
    try:
        nominal = await _nominal(workflow)
        for round_ in range(4):
            meeting = await _meeting(workflow, nominal.id,
                                     held_at=f"2026-0{round_ + 5}-01T10:00:00Z")
            outcomes = await asyncio.gather(
                _send(workflow, meeting, factories.consideration()),
                _send(other, meeting, {"event": "add_action_points", "action_points":
                                       factories.new_meeting(1)["action_points"]}),
                return_exceptions=True,
            )
            won = [o for o in outcomes if isinstance(o, MeetingView)]
            lost = [o for o in outcomes if isinstance(o, BaseException)]
            assert len(won) == 1 and len(lost) == 1, outcomes
            assert isinstance(lost[0], StaleVersion)
            after = await Meetings(workflow).get(meeting.id)
            assert after.version == 2
            # The consideration's requests exist only if the consideration won.
            assert len(after.requests) == (2 if after.consideration else 0)
        assert (await verify(workflow.db)).ok
    finally:
        await other.db.dispose()
