"""The workflow service on a real database: whole lifecycles, outcomes, and nothing half-written."""

from __future__ import annotations

import msgspec
import pytest
from sqlalchemy import func, select

from disclosure import audit, oversight, statistics
from disclosure.errors import EventNotAllowed, GuardRefused, NotFound, StaleVersion
from disclosure.models import (
    Check,
    Decision,
    DecisionRecipient,
    Delivery,
    Event,
    Notice,
    SubjectTold,
)
from disclosure.schemas import NewRequest
from disclosure.users import Users
from disclosure.workflow import Workflow
from tests.api.conftest import TEST_HASHER
from tests.conftest import FakeClock
from tests.factories import NO_DISCLOSURE, new, new_request, payload, recipient

OFFICER = "officer.ann"
DECIDER = "inspector.bob"


Step = tuple[str, str, dict[str, object]]


@pytest.fixture(autouse=True)
def _after_the_example_dates(clock: FakeClock) -> None:
    """The factories' events happen up to 7 November; these tests record them after."""
    clock.advance(days=10)


PREPARED: tuple[Step, ...] = (
    ("complete_initial_checks", OFFICER, {}), ("record_meeting", OFFICER, {}),
    ("record_check", OFFICER, {}), ("complete_checks", OFFICER, {}),
)


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


async def parties(workflow: Workflow, reference: str) -> dict[str, int]:
    return {p.role: p.id for p in (await workflow.get(reference)).parties}


async def test_third_party_application_disclosed_then_the_applicant_told_the_process_ended(
    workflow: Workflow,
) -> None:
    reference, at_risk = await to_decision(workflow)
    await walk(
        workflow, reference,
        ("record_decision", DECIDER, {"recipients": [recipient(at_risk)]}),
        ("record_delivery", OFFICER, {"recipient_party_id": at_risk}),
    )
    # The mother applied: she is owed a notice, though she is not told the outcome.
    assert (await workflow.get(reference)).state == "awaiting_notice"
    await walk(workflow, reference, ("record_notice", OFFICER, {}))
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", "disclosed_to_person_at_risk")
    assert view.closed_at is not None
    events = await workflow.events(reference)
    assert [e.event for e in events] == [
        "receive", "complete_initial_checks", "record_meeting", "record_check",
        "complete_checks", "record_decision", "record_delivery", "record_notice",
    ]
    assert (await audit.verify(workflow.db)).ok
    async with workflow.db.read() as session:
        delivery = await session.scalar(select(Delivery))
        assert delivery is not None and delivery.matches_approved_wording
        notice = await session.scalar(select(Notice))
        assert notice is not None and notice.told == "process_ended"
        decision = await session.scalar(select(Decision))
        assert decision is not None and decision.decision_maker == DECIDER


async def test_the_person_at_risk_applying_needs_no_notice_after_delivery(
    workflow: Workflow,
) -> None:
    body = new_request()
    body["parties"][2] |= {"relationship": "self", "relationship_code": "self"}
    view = await workflow.create(msgspec.convert(body, NewRequest), actor=OFFICER)
    await walk(workflow, view.reference, *PREPARED,
               ("record_decision", DECIDER, {}), ("record_delivery", OFFICER, {}))
    closed = await workflow.get(view.reference)
    assert (closed.state, closed.outcome) == ("closed", "disclosed_to_person_at_risk")


async def test_no_disclosure_right_to_ask_waits_for_the_notice(workflow: Workflow) -> None:
    reference, _ = await to_decision(workflow)
    await walk(workflow, reference, ("record_decision", DECIDER, NO_DISCLOSURE))
    assert (await workflow.get(reference)).state == "awaiting_notice"
    await walk(workflow, reference, ("record_notice", OFFICER, {}))
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", "not_necessary_proportionate")


async def test_no_disclosure_right_to_know_closes_at_once(workflow: Workflow) -> None:
    reference, _ = await to_decision(workflow, route="right_to_know")
    await walk(workflow, reference, ("record_decision", DECIDER, NO_DISCLOSURE))
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", "not_necessary_proportionate")


async def test_a_referral_after_full_checks_closes_as_referred(workflow: Workflow) -> None:
    reference, _ = await to_decision(workflow, route="right_to_know")
    await walk(workflow, reference, ("record_decision", DECIDER,
                                     {"decision": "refer", "referred_to": "mash"}))
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", "referred_safeguarding")


async def test_no_information_refused_when_a_check_found_information(
    workflow: Workflow,
) -> None:
    reference, _ = await to_decision(workflow)
    with pytest.raises(GuardRefused, match=r"information is held according to the pnc check$"):
        await walk(workflow, reference, ("record_decision", DECIDER,
                                         {**NO_DISCLOSURE, "no_disclosure_reason":
                                          "no_information"}))
    assert (await workflow.get(reference)).state == "awaiting_decision"


async def test_four_eyes_refuses_anyone_who_prepared_the_request(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    # The decider ran one check only; that is preparing the request too.
    await walk(workflow, view.reference, ("complete_initial_checks", OFFICER, {}),
               ("record_meeting", OFFICER, {}), ("record_check", DECIDER, {}),
               ("complete_checks", OFFICER, {}))
    for decision in ({}, NO_DISCLOSURE):
        with pytest.raises(GuardRefused, match=f"{DECIDER} recorded record_check"):
            await walk(workflow, view.reference, ("record_decision", DECIDER, decision))
    async with workflow.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Decision)) == 0
    assert (await workflow.get(view.reference)).state == "awaiting_decision"


async def test_csods_decision_naming_the_child_is_refused(workflow: Workflow) -> None:
    view = await workflow.create(new("csods"), actor=OFFICER)
    await walk(workflow, view.reference, *PREPARED)
    child = next(p.id for p in view.parties if p.role == "child")
    with pytest.raises(GuardRefused, match="never made to the child") as refused:
        await walk(workflow, view.reference, ("record_decision", DECIDER, {
            "recipients": [recipient(child)], "presumption_applies": True}))
    assert "CSODS: only a parent, carer or guardian of the child" in str(refused.value)
    mother = next(p.id for p in view.parties if p.role == "applicant")
    await walk(workflow, view.reference, ("record_decision", DECIDER, {
        "recipients": [recipient(mother, rationale="Mother of the child")],
        "presumption_applies": True}))
    assert (await workflow.get(view.reference)).state == "awaiting_delivery"


@pytest.mark.parametrize(("delivered", "declined", "state", "outcome"), [
    ("person_at_risk", "applicant", "awaiting_notice", "disclosed_to_person_at_risk"),
    ("applicant", "person_at_risk", "closed", "disclosed_to_other"),
])
async def test_two_recipients_one_delivered_one_declined_close_by_who_received_it(
    workflow: Workflow, delivered: str, declined: str, state: str, outcome: str
) -> None:
    reference, _ = await to_decision(workflow)
    ids = await parties(workflow, reference)
    await walk(workflow, reference, ("record_decision", DECIDER, {"recipients": [
        recipient(ids["person_at_risk"]),
        recipient(ids["applicant"], rationale="Her mother, who she lives with",
                  better_placed_reason="A young person at risk; her mother can protect her"),
    ]}))
    await walk(workflow, reference,
               ("record_non_delivery", OFFICER, {"recipient_party_id": ids[declined]}))
    assert (await workflow.get(reference)).state == "awaiting_delivery"
    await walk(workflow, reference,
               ("record_delivery", OFFICER, {"recipient_party_id": ids[delivered]}))
    # A mother who was given the disclosure herself needs no notice that the process ended.
    assert (await workflow.get(reference)).state == state
    if state == "awaiting_notice":
        await walk(workflow, reference, ("record_notice", OFFICER, {}))
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", outcome)
    async with workflow.db.read() as session:
        settled = dict((await session.execute(
            select(DecisionRecipient.party_id, DecisionRecipient.settlement))).all())
    assert settled == {ids[delivered]: "delivered", ids[declined]: "declined"}


async def test_a_disclosure_delivered_to_no_one_closes_not_delivered(workflow: Workflow) -> None:
    reference, at_risk = await to_decision(workflow, route="right_to_know")
    await walk(workflow, reference, ("record_decision", DECIDER, {}))
    await walk(workflow, reference, ("record_non_delivery", DECIDER, {
        "recipient_party_id": at_risk, "reason": "stopped", "notes": "She has left the area"}))
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", "disclosure_not_delivered")
    async with workflow.db.read() as session:
        stopped = await session.scalar(select(DecisionRecipient))
    assert stopped is not None and (stopped.settlement, stopped.settled_by) == (
        "stopped", DECIDER)


async def test_delivery_refusals_name_the_rule(workflow: Workflow) -> None:
    reference, _ = await to_decision(workflow)
    ids = await parties(workflow, reference)
    await walk(workflow, reference, ("record_decision", DECIDER, {}))
    with pytest.raises(GuardRefused, match="not a recipient of the decision awaiting delivery"):
        await walk(workflow, reference,
                   ("record_delivery", OFFICER, {"recipient_party_id": ids["applicant"]}))
    with pytest.raises(GuardRefused, match="delivered_at: before the decision"):
        await walk(workflow, reference,
                   ("record_delivery", OFFICER, {"delivered_at": "2026-11-04T10:00:00Z"}))
    with pytest.raises(GuardRefused, match="different_words_reason"):
        await walk(workflow, reference,
                   ("record_delivery", OFFICER, {"words_used": "He is violent."}))
    with pytest.raises(GuardRefused, match="a disclosure has been decided"):
        await walk(workflow, reference, ("withdraw", OFFICER, {}))
    await walk(workflow, reference, ("record_delivery", OFFICER, {
        "words_used": "He is violent.", "different_words_reason": "She asked for it plainly",
        "undertaking": "refused", "undertaking_decided_by": "DI Example"}))
    async with workflow.db.read() as session:
        delivery = await session.scalar(select(Delivery))
    assert delivery is not None
    assert (delivery.matches_approved_wording, delivery.undertaking_decided_by) == (
        False, "DI Example")


async def test_telling_the_subject_is_recorded_without_moving_the_request(
    workflow: Workflow,
) -> None:
    reference, at_risk = await to_decision(workflow, route="right_to_know")
    await walk(workflow, reference, ("record_decision", DECIDER, {}),
               ("record_subject_told", OFFICER, {}),
               ("record_delivery", OFFICER, {"recipient_party_id": at_risk}),
               ("record_subject_told", OFFICER, {"what": "A disclosure was made"}))
    view = await workflow.get(reference)
    assert (view.state, view.outcome) == ("closed", "disclosed_to_person_at_risk")
    async with workflow.db.read() as session:
        told = (await session.scalars(select(SubjectTold.what))).all()
    assert told[-1] == "A disclosure was made" and len(told) == 2


async def test_continue_as_right_to_know_carries_the_people_and_shows_the_link(
    workflow: Workflow,
) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await walk(workflow, view.reference, ("complete_initial_checks", OFFICER, {}),
               ("continue_as_right_to_know", OFFICER, {}))
    closed = await workflow.get(view.reference)
    assert (closed.state, closed.outcome) == ("closed", "withdrawn")
    assert closed.continued_as is not None
    carried = await workflow.get(closed.continued_as)
    assert (carried.route, carried.state, carried.continued_from) == (
        "right_to_know", "received", view.reference)
    assert sorted((p.role, p.name) for p in carried.parties) == [
        ("person_at_risk", "Amy Sample"), ("referrer", "Jane Sample"),
        ("subject", "Mark Sample")]
    trail = await workflow.events(view.reference)
    assert trail[-1].payload is not None
    assert trail[-1].payload["continued_as"] == carried.reference


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
    await walk(workflow, view.reference, ("reopen", DECIDER, {}))
    reopened = await workflow.get(view.reference)
    assert (reopened.state, reopened.outcome, reopened.closed_at) == ("received", None, None)


async def _accounts(workflow: Workflow) -> None:
    users = Users(workflow.db, now=workflow.now, hasher=TEST_HASHER)
    await users.add_area("derbyshire", name="Derbyshire Constabulary", divisions=["north"])
    await users.add_area("durham", name="Durham Constabulary", divisions=["north"])
    for username, area, roles in (
        ("supt.lane", "derbyshire", ["decision_maker"]),
        ("supt.away", "durham", ["decision_maker"]),
        (OFFICER, "derbyshire", ["disclosure_officer"]),
        ("supt.gone", "derbyshire", ["decision_maker"]),
    ):
        await users.add(username, password="a long enough passphrase", area=area, roles=roles,
                        created_by="test")
    await users.disable("supt.gone")


def urgent(**fields: object) -> dict[str, object]:
    return {"leaves_scheme": False, "urgent_disclosure": {
        "recipient_party_id": 2, "wording": "He has hurt a partner before.",
        "delivered_by": "PC Example", "delivered_at": "2026-11-02T12:30:00Z",
        "authorised_by": "supt.lane", "authoriser_rank": "superintendent", **fields}}


@pytest.mark.parametrize(("who", "message"), [
    ("supt.away", "supt.away is not an active decision_maker in this area"),
    ("supt.gone", "supt.gone is not an active decision_maker in this area"),
    (OFFICER, "an urgent disclosure is authorised by a decision_maker other than the sender"),
    ("nobody", "nobody is not an active decision_maker in this area"),
])
async def test_urgent_disclosure_authorised_by_an_active_decision_maker_of_the_area(
    workflow: Workflow, who: str, message: str
) -> None:
    await _accounts(workflow)
    view = await workflow.create(new(), actor=OFFICER)
    with pytest.raises(GuardRefused, match=f"authorised_by: {message}"):
        await walk(workflow, view.reference,
                   ("take_immediate_action", OFFICER, urgent(authorised_by=who)))
    async with workflow.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Decision)) == 0


async def test_an_urgent_disclosure_is_a_full_record_listed_with_the_decisions(
    workflow: Workflow,
) -> None:
    await _accounts(workflow)
    view = await workflow.create(new(), actor=OFFICER)
    with pytest.raises(GuardRefused, match="never made to the subject"):
        await walk(workflow, view.reference,
                   ("take_immediate_action", OFFICER, urgent(recipient_party_id=1)))
    await walk(workflow, view.reference, ("take_immediate_action", OFFICER, urgent()))
    assert (await workflow.get(view.reference)).state == "received"
    async with workflow.db.read() as session:
        page = await oversight.decisions(session, area="derbyshire", limit=10)
        stats = await statistics.read(session, area="derbyshire")
        recipient_row = await session.scalar(select(DecisionRecipient))
    [listed] = page.items
    assert (listed.urgent, listed.forum, listed.decision, listed.decision_maker_role) == (
        True, "urgent", "disclose", "superintendent")
    assert (listed.recipients, listed.delivered) == (1, 1)
    assert (stats.disclosures_delivered, stats.urgent_disclosures_delivered) == (0, 1)
    assert recipient_row is not None
    assert (recipient_row.wording, recipient_row.settled_by, recipient_row.settlement) == (
        "He has hurt a partner before.", "PC Example", "delivered")
    # The urgent disclosure is not the decision the request goes on to wait for.
    await walk(workflow, view.reference, *PREPARED, ("record_decision", DECIDER, NO_DISCLOSURE))
    assert (await workflow.get(view.reference)).state == "awaiting_notice"
