"""The workflow service on a real database: whole lifecycles, outcomes, and nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from disclosure import audit
from disclosure.errors import EventNotAllowed, GuardRefused, NotFound, StaleVersion
from disclosure.models import Check, Decision, Delivery, Event
from disclosure.workflow import Workflow
from tests.factories import NO_DISCLOSURE, new, payload

OFFICER = "officer.ann"
DECIDER = "inspector.bob"


Step = tuple[str, str, dict[str, object]]


async def walk(workflow: Workflow, reference: str, *steps: Step) -> int:
    version = (await workflow.get(reference)).version
    for event, actor, fields in steps:
        version = (
            await workflow.apply(reference, payload(event, **fields), actor=actor,
                                 expected_version=version)
        ).version
    return version


async def to_decision(workflow: Workflow, route: str = "right_to_ask") -> tuple[str, int]:
    view = await workflow.create(new(route=route), actor=OFFICER)
    steps = [("complete_initial_checks", OFFICER, {})]
    if route == "right_to_ask":
        steps.append(("record_meeting", OFFICER, {}))
    steps += [("record_check", OFFICER, {}), ("complete_checks", OFFICER, {})]
    await walk(workflow, view.reference, *steps)
    at_risk = next(p.id for p in view.parties if p.role == "person_at_risk")
    return view.reference, at_risk


async def test_third_party_application_ends_disclosed_to_person_at_risk(workflow: Workflow) -> None:
    reference, at_risk = await to_decision(workflow)
    await walk(
        workflow, reference,
        ("record_decision", DECIDER, {"recipient_party_id": at_risk}),
        ("record_delivery", OFFICER, {"recipient_party_id": at_risk}),
    )
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", "disclosed_to_person_at_risk")
    assert view.closed_at is not None
    events = await workflow.events(reference)
    assert [e.event for e in events] == [
        "receive", "complete_initial_checks", "record_meeting", "record_check",
        "complete_checks", "record_decision", "record_delivery",
    ]
    assert [e.to_state for e in events][-1] == "closed"
    assert (await audit.verify(workflow.db)).ok
    async with workflow.db.read() as session:
        delivery = await session.scalar(select(Delivery))
        assert delivery is not None and delivery.matches_approved_wording


async def test_no_disclosure_right_to_ask_waits_for_the_notice(workflow: Workflow) -> None:
    reference, _ = await to_decision(workflow)
    await walk(workflow, reference, ("record_decision", DECIDER, NO_DISCLOSURE))
    assert (await workflow.get(reference)).state == "awaiting_notice"
    await walk(workflow, reference, ("record_notice", OFFICER, {}))
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", "no_information")


async def test_no_disclosure_right_to_know_closes_at_once(workflow: Workflow) -> None:
    reference, _ = await to_decision(workflow, route="right_to_know")
    await walk(workflow, reference, ("record_decision", DECIDER,
                                     {**NO_DISCLOSURE,
                                      "no_disclosure_reason": "not_necessary_proportionate"}))
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", "not_necessary_proportionate")


async def test_four_eyes_refuses_the_officer_who_completed_the_checks(workflow: Workflow) -> None:
    reference, at_risk = await to_decision(workflow)
    with pytest.raises(GuardRefused, match="someone other than the officer"):
        await walk(workflow, reference,
                   ("record_decision", OFFICER, {"recipient_party_id": at_risk}))
    async with workflow.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Decision)) == 0
    assert (await workflow.get(reference)).state == "awaiting_decision"


async def test_delivery_must_go_to_the_decided_recipient(workflow: Workflow) -> None:
    reference, at_risk = await to_decision(workflow)
    applicant = next(p.id for p in (await workflow.get(reference)).parties if p.role == "applicant")
    await walk(workflow, reference, ("record_decision", DECIDER, {"recipient_party_id": at_risk}))
    with pytest.raises(GuardRefused, match="the party named in the decision"):
        await walk(workflow, reference,
                   ("record_delivery", OFFICER, {"recipient_party_id": applicant}))


async def test_refused_event_writes_nothing(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await walk(workflow, view.reference, ("complete_initial_checks", OFFICER, {}),
               ("record_meeting", OFFICER, {}))
    with pytest.raises(GuardRefused, match="at least one recorded check"):
        await walk(workflow, view.reference, ("complete_checks", OFFICER, {}))
    with pytest.raises(EventNotAllowed) as refused:
        await walk(workflow, view.reference,
                   ("record_delivery", OFFICER, {"recipient_party_id": 1}))
    assert refused.value.state == "checks"
    after = await workflow.get(view.reference)
    assert (after.state, after.version) == ("checks", 3)
    async with workflow.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 3
        assert await session.scalar(select(func.count()).select_from(Check)) == 0


async def test_stale_version_is_refused(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await workflow.apply(view.reference, payload("complete_initial_checks"), actor=OFFICER,
                         expected_version=1)
    with pytest.raises(StaleVersion):
        await workflow.apply(view.reference, payload("withdraw"), actor=OFFICER,
                             expected_version=1)


async def test_actions_leave_out_what_only_the_command_line_sends(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    offered = [a.event for a in (await workflow.actions(view.reference)).actions]
    assert "extend_deadline" in offered and "recompute_clock" not in offered


async def test_unknown_reference(workflow: Workflow) -> None:
    with pytest.raises(NotFound):
        await workflow.get("DVDS-2026-999999")


async def test_references_count_per_scheme_and_year(workflow: Workflow) -> None:
    first = await workflow.create(new(), actor=OFFICER)
    second = await workflow.create(new(), actor=OFFICER)
    child = await workflow.create(new("csods"), actor=OFFICER)
    assert (first.reference, second.reference, child.reference) == (
        "DVDS-2026-000001", "DVDS-2026-000002", "CSODS-2026-000001")


async def test_reopen_clears_the_outcome(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await walk(workflow, view.reference, ("withdraw", OFFICER, {}))
    assert (await workflow.get(view.reference)).outcome == "withdrawn"
    await walk(workflow, view.reference, ("reopen", OFFICER, {}))
    reopened = await workflow.get(view.reference)
    assert (reopened.state, reopened.outcome, reopened.closed_at) == ("received", None, None)
