"""Reopening keeps every closure on the record and restarts the clock; parties are added and
amended while a request is open, each change on the trail with the values it replaced."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from disclosure import audit
from disclosure.errors import EventNotAllowed, GuardRefused, InvalidInput
from disclosure.models import Closure
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.factories import new, payload, recipient, utc

OFFICER = "officer.ann"
DECIDER = "inspector.bob"


async def send(workflow: Workflow, reference: str, event: str, *, by: str = OFFICER,
               **fields: object) -> None:
    version = (await workflow.get(reference)).version
    await workflow.apply(reference, payload(event, **fields), actor=by, expected_version=version)


async def disclosed(workflow: Workflow) -> tuple[str, int]:
    """A request disclosed to the person at risk, her mother told the process has ended, and
    closed; its reference and the person at risk's party id."""
    view = await workflow.create(new(), actor=OFFICER)
    at_risk = next(p.id for p in view.parties if p.role == "person_at_risk")
    for event in ("complete_initial_checks", "record_meeting", "record_check",
                  "complete_checks"):
        await send(workflow, view.reference, event)
    await send(workflow, view.reference, "record_decision", by=DECIDER,
               recipients=[recipient(at_risk)])
    await send(workflow, view.reference, "record_delivery", recipient_party_id=at_risk)
    await send(workflow, view.reference, "record_notice")
    return view.reference, at_risk


async def test_a_reopened_case_keeps_its_first_outcome_on_the_trail(
    workflow: Workflow, clock: FakeClock
) -> None:
    reference, _ = await disclosed(workflow)
    clock.current = utc("2026-11-09T10:00:00Z")
    await send(workflow, reference, "reopen", by=DECIDER, category="new_information",
               reason="A new incident reported by the IDVA")
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("received", None)
    [first] = view.closures
    assert (first.event, first.outcome, first.closed_at) == (
        "record_notice", "disclosed_to_person_at_risk", utc("2026-11-06T15:00:00Z")
    )
    assert (first.reopened_at, first.reopen_category, first.reopen_reason) == (
        utc("2026-11-09T10:00:00Z"), "new_information", "A new incident reported by the IDVA"
    )
    trail = await workflow.events(reference)
    closing, reopen = trail[-2], trail[-1]
    assert closing.payload is not None and reopen.payload is not None
    assert closing.payload["outcome"] == "disclosed_to_person_at_risk"
    assert (reopen.payload["category"], reopen.payload["previous_outcome"]) == (
        "new_information", "disclosed_to_person_at_risk"
    )
    # Closed again: both closures stay, each with its own outcome, for a report to count.
    await send(workflow, reference, "withdraw")
    closures = (await workflow.get(reference)).closures
    assert [(c.outcome, c.reopen_category) for c in closures] == [
        ("disclosed_to_person_at_risk", "new_information"), ("withdrawn", None),
    ]
    async with workflow.db.read() as session:
        counted = await session.execute(
            select(Closure.outcome, func.count()).group_by(Closure.outcome)
            .order_by(Closure.outcome)
        )
        assert counted.all() == [("disclosed_to_person_at_risk", 1), ("withdrawn", 1)]
    assert (await audit.verify(workflow.db)).ok
    # A closure is sealed like every casework row: an outcome changed in SQL is found.
    async with workflow.db.engine.begin() as conn:
        edited = (await conn.execute(text(
            "UPDATE closures SET outcome = 'withdrawn' WHERE outcome ="
            " 'disclosed_to_person_at_risk' RETURNING id"
        ))).scalar_one()
    verdict = await audit.verify(workflow.db)
    assert not verdict.ok
    assert [(p.reference, p.problem) for p in verdict.problems] == [
        (reference, f"closures row {edited} does not match its seal"),
    ]


async def test_a_reopened_case_gets_a_fresh_clock_that_says_so(
    workflow: Workflow, clock: FakeClock
) -> None:
    reference, _ = await disclosed(workflow)
    clock.current = utc("2026-11-09T10:00:00Z")
    await send(workflow, reference, "reopen", by=DECIDER, category="applicant_reengaged",
               reason="Applicant rang back")
    view = await workflow.get(reference)
    # 28 days from the reopening, not from receipt on 2 November.
    assert view.due_at == utc("2026-12-07T23:59:59.999999Z")
    assert view.stage_due_at == utc("2026-11-10T10:00:00Z")
    clock_view = await workflow.clock(reference)
    assert clock_view.overall is not None
    assert clock_view.overall.start_event == "reopened"
    assert clock_view.overall.explanation == (
        "Due by 23:59 on Monday 7 December 2026: reopened 10:00 Monday 9 November 2026, plus "
        "28 calendar days (the clock started again when the request was reopened; it was first "
        "received 09:00 Monday 2 November 2026)."
    )
    assert clock_view.stages[0].explanation == (
        "Due by 10:00 on Tuesday 10 November 2026: reopened 10:00 Monday 9 November 2026, plus "
        "24 hours."
    )


async def test_extensions_before_a_reopening_do_not_carry_over(
    workflow: Workflow, clock: FakeClock
) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await send(workflow, view.reference, "extend_deadline", days=21)
    await send(workflow, view.reference, "withdraw")
    clock.current = utc("2026-11-09T10:00:00Z")
    await send(workflow, view.reference, "reopen", by=DECIDER, category="closed_in_error",
               reason="Withdrawn by mistake")
    assert (await workflow.get(view.reference)).due_at == utc("2026-12-07T23:59:59.999999Z")
    # The fresh clock has a fresh cap.
    await send(workflow, view.reference, "extend_deadline", days=28)


async def test_reopen_needs_a_known_category(workflow: Workflow) -> None:
    with pytest.raises(Exception, match="Invalid enum value 'because'"):
        payload("reopen", category="because")


# Parties during a case ---------------------------------------------------------------------


async def test_a_better_placed_recipient_is_added_at_the_decision(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    for event in ("complete_initial_checks", "record_meeting", "record_check",
                  "complete_checks"):
        await send(workflow, view.reference, event)
    await send(workflow, view.reference, "add_party", by=DECIDER)
    after = await workflow.get(view.reference)
    [grandmother] = [p for p in after.parties if p.role == "recipient"]
    assert (grandmother.name, grandmother.relationship) == (
        "Mary Sample", "grandmother and guardian of the person at risk"
    )
    added = (await workflow.events(view.reference))[-1]
    assert added.payload is not None
    assert (added.event, added.payload["party_id"], added.payload["reason"]) == (
        "add_party", grandmother.id, "Better placed to protect her than the applicant"
    )
    await send(workflow, view.reference, "record_decision", by=DECIDER, recipients=[
        recipient(grandmother.id, rationale="Her guardian, who can protect her",
                  better_placed_reason="The person at risk is 17 and lives with her"),
    ])
    assert (await workflow.get(view.reference)).state == "awaiting_delivery"


async def test_an_amendment_keeps_the_old_values_on_the_trail(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    applicant = next(p for p in view.parties if p.role == "applicant")
    subject = next(p for p in view.parties if p.role == "subject")
    await send(workflow, view.reference, "amend_party", party_id=subject.id,
               changes={"date_of_birth": "1988-04-01", "sex": "male"})
    await send(workflow, view.reference, "amend_party", party_id=applicant.id,
               changes={"safe_contact": {"method": "phone", "details": "07700 900123",
                                         "times": "weekday mornings"}},
               reason="She now works evenings")
    after = {p.id: p for p in (await workflow.get(view.reference)).parties}
    assert after[subject.id].date_of_birth == "1988-04-01"
    assert after[applicant.id].safe_contact == {
        "method": "phone", "details": "07700 900123", "times": "weekday mornings", "notes": "",
    }
    first, second = (await workflow.events(view.reference))[-2:]
    assert first.payload is not None and second.payload is not None
    # Only what changed: the subject's sex was already recorded as male.
    assert (first.payload["old"], first.payload["new"]) == (
        {"date_of_birth": None}, {"date_of_birth": "1988-04-01"}
    )
    assert second.payload["old"]["safe_contact"]["times"] == "after 6pm"
    assert second.payload["new"]["safe_contact"]["times"] == "weekday mornings"
    # The amended rows are sealed anew with the event that changed them.
    assert (await audit.verify(workflow.db)).ok


@pytest.mark.parametrize(("changes", "problem"), [
    ({"kind": "organisation"}, "sex: an organisation has none"),
    ({"relationship_code": "school"},
     "relationship_code: school is not a code for a person"),
    ({"registered_sex_offender": True},
     "registered_sex_offender: only a subject carries the flag"),
])
async def test_an_amendment_meets_the_rules_a_new_party_meets(
    workflow: Workflow, changes: dict[str, object], problem: str
) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    at_risk = next(p for p in view.parties if p.role == "person_at_risk")
    with pytest.raises(InvalidInput) as refused:
        await send(workflow, view.reference, "amend_party", party_id=at_risk.id,
                   changes=changes)
    assert str(refused.value) == f"changes: {problem}"
    after = await workflow.get(view.reference)
    assert after.version == 1
    assert next(p for p in after.parties if p.id == at_risk.id) == at_risk


async def test_an_amendment_that_changes_nothing_is_refused(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    subject = next(p for p in view.parties if p.role == "subject")
    with pytest.raises(InvalidInput) as refused:
        await send(workflow, view.reference, "amend_party", party_id=subject.id,
                   changes={"name": "Mark Sample"})
    assert str(refused.value) == "changes: every value given is already recorded"
    assert (await workflow.get(view.reference)).version == 1


async def test_a_party_of_another_request_cannot_be_amended(workflow: Workflow) -> None:
    other = await workflow.create(new(), actor=OFFICER)
    view = await workflow.create(new(), actor=OFFICER)
    with pytest.raises(GuardRefused, match="is not a party to this request"):
        await send(workflow, view.reference, "amend_party", party_id=other.parties[0].id)


async def test_parties_of_a_closed_request_are_not_changed(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await send(workflow, view.reference, "withdraw")
    with pytest.raises(EventNotAllowed, match="allowed now: record_subject_told, reopen"):
        await send(workflow, view.reference, "amend_party", party_id=view.parties[0].id)
