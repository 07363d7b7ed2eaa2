"""The lifecycles of both routes against the domain's own table: every state, every event."""

from __future__ import annotations

from typing import Any

import pytest

from statemachines.lifecycle import (
    EVENTS,
    EventNotAllowed,
    Facts,
    GuardRefused,
    Route,
    allowed_events,
    fire,
    lifecycle,
)
from tests.factories import NO_DISCLOSURE, payload

OFFICER = "officer.ann"
DECIDER = "inspector.bob"
SUBJECT, AT_RISK, APPLICANT, REFERRER = 1, 2, 3, 4
SAME = "(same state)"

# Written out from the domain's lifecycle table, not computed from the machines.
ALL_EVENTS = (
    "complete_initial_checks", "record_meeting", "record_check", "complete_checks",
    "record_decision", "record_delivery", "record_notice", "take_immediate_action",
    "extend_deadline", "recompute_clock", "record_partner_request", "record_partner_response",
    "withdraw", "close_no_engagement", "reopen", "add_party", "amend_party",
)
IN_ANY_OPEN_STATE: dict[Route, dict[str, str]] = {
    "right_to_ask": {
        "take_immediate_action": SAME, "extend_deadline": SAME, "recompute_clock": SAME,
        "record_partner_request": SAME, "record_partner_response": SAME, "withdraw": "closed",
        "close_no_engagement": "closed", "add_party": SAME, "amend_party": SAME,
    },
    # No applicant, so nobody to withdraw.
    "right_to_know": {
        "take_immediate_action": SAME, "extend_deadline": SAME, "recompute_clock": SAME,
        "record_partner_request": SAME, "record_partner_response": SAME,
        "close_no_engagement": "closed", "add_party": SAME, "amend_party": SAME,
    },
}
# Where each event goes on its ordinary path (in scope, identity verified, a disclosure agreed).
STAGES: dict[Route, dict[str, dict[str, str]]] = {
    "right_to_ask": {
        "received": {"complete_initial_checks": "awaiting_meeting"},
        "awaiting_meeting": {"record_meeting": "checks"},
        "checks": {"record_check": SAME, "complete_checks": "awaiting_decision"},
        "awaiting_decision": {"record_decision": "awaiting_delivery"},
        "awaiting_delivery": {"record_delivery": "closed"},
        "awaiting_notice": {"record_notice": "closed"},
    },
    "right_to_know": {
        "received": {"complete_initial_checks": "checks"},
        "checks": {"record_check": SAME, "complete_checks": "awaiting_decision"},
        "awaiting_decision": {"record_decision": "awaiting_delivery"},
        "awaiting_delivery": {"record_delivery": "closed"},
    },
}
CLOSED = {"reopen": "received"}


def expected(route: Route, state: str) -> dict[str, str]:
    """The events the domain allows in a state, each with the state it leads to."""
    if state == "closed":
        return CLOSED
    return {**STAGES[route][state], **IN_ANY_OPEN_STATE[route]}


def states(route: Route) -> list[str]:
    return [*STAGES[route], "closed"]


PAIRS = [
    (route, state, event)
    for route in STAGES
    for state in states(route)
    for event in ALL_EVENTS
]
ALLOWED = [p for p in PAIRS if p[2] in expected(p[0], p[1])]
FORBIDDEN = [p for p in PAIRS if p[2] not in expected(p[0], p[1])]


def facts(actor: str = DECIDER, **overrides: Any) -> Facts:
    """A request whose records satisfy every guard, unless overridden."""
    fields: dict[str, Any] = {
        "checks_recorded": 1,
        "checks_completed_by": OFFICER,
        "open_partner_requests": frozenset({7}),
        "parties": {SUBJECT: "subject", AT_RISK: "person_at_risk", APPLICANT: "applicant",
                    REFERRER: "referrer"},
        "decision": "disclose",
        "decision_recipient": AT_RISK,
        
    }
    fields.update(overrides)
    return Facts(actor=actor, **fields)


def ordinary(event: str, **overrides: Any) -> Any:
    """A payload for the ordinary path of an event."""
    if event in ("record_decision", "record_delivery"):
        overrides.setdefault("recipient_party_id", AT_RISK)
    if event == "record_partner_response":
        overrides.setdefault("partner_request_id", 7)
    return payload(event, **overrides)


def test_the_machines_have_the_domains_states_and_events() -> None:
    for route in STAGES:
        machine = lifecycle(route)
        assert [s.value for s in machine.states] == states(route)
        taken = {e for state in states(route) for e in expected(route, state)}
        assert {e.id for e in machine.events} == taken
    assert set(EVENTS) == set(ALL_EVENTS)


def test_right_to_know_has_no_meeting_notice_or_withdrawal() -> None:
    machine = lifecycle("right_to_know")
    assert not {"awaiting_meeting", "awaiting_notice"} & {s.value for s in machine.states}
    assert not {"record_meeting", "record_notice", "withdraw"} & {e.id for e in machine.events}


@pytest.mark.parametrize(("route", "state"), [(r, s) for r in STAGES for s in states(r)])
def test_allowed_events_are_the_domains(route: Route, state: str) -> None:
    assert set(allowed_events(route, state)) == set(expected(route, state))


@pytest.mark.parametrize(("route", "state", "event"), ALLOWED)
def test_allowed_event_moves_to_its_target(route: Route, state: str, event: str) -> None:
    target = expected(route, state)[event]
    moved = fire(route, state, event, payload=ordinary(event), facts=facts())
    assert moved == (state if target == SAME else target)


@pytest.mark.parametrize(("route", "state", "event"), FORBIDDEN)
def test_forbidden_event_names_the_state_and_what_is_allowed(
    route: Route, state: str, event: str
) -> None:
    with pytest.raises(EventNotAllowed) as refused:
        fire(route, state, event, payload=ordinary(event), facts=facts())
    assert (refused.value.event, refused.value.state) == (event, state)
    assert set(refused.value.allowed) == set(expected(route, state))
    message = str(refused.value)
    assert f"{event} is not allowed while the request is {state}" in message
    assert all(name in message for name in expected(route, state))


# Conditional branches ------------------------------------------------------------------------


@pytest.mark.parametrize("route", list(STAGES))
@pytest.mark.parametrize(
    "finding",
    [
        {"finding": "out_of_scope"},
        {"finding": "duplicate", "duplicate_of": "DVDS-2026-000001"},
        {"finding": "referred_safeguarding", "referred_to": "marac"},
    ],
)
def test_initial_checks_that_end_the_request_close_it(
    route: Route, finding: dict[str, str]
) -> None:
    moved = fire(route, "received", "complete_initial_checks",
                 payload=payload("complete_initial_checks", **finding), facts=facts())
    assert moved == "closed"


def test_identity_not_verified_closes_the_request() -> None:
    moved = fire("right_to_ask", "awaiting_meeting", "record_meeting",
                 payload=payload("record_meeting", identity_verified=False), facts=facts())
    assert moved == "closed"


def test_no_disclosure_waits_for_the_notice_on_right_to_ask_and_closes_right_to_know() -> None:
    decision = payload("record_decision", **NO_DISCLOSURE)
    assert fire("right_to_ask", "awaiting_decision", "record_decision", payload=decision,
                facts=facts()) == "awaiting_notice"
    assert fire("right_to_know", "awaiting_decision", "record_decision", payload=decision,
                facts=facts()) == "closed"


@pytest.mark.parametrize(("route", "state"), [(r, s) for r in STAGES for s in STAGES[r]])
def test_immediate_action_closes_only_when_the_case_leaves_the_scheme(
    route: Route, state: str
) -> None:
    leaves = payload("take_immediate_action", leaves_scheme=True)
    stays = payload("take_immediate_action", leaves_scheme=False, urgent_disclosure=True,
                    authorised_by="Supt Example")
    assert fire(route, state, "take_immediate_action", payload=leaves, facts=facts()) == "closed"
    assert fire(route, state, "take_immediate_action", payload=stays, facts=facts()) == state


# Guards ----------------------------------------------------------------------------------------


def refusal(route: Route, state: str, event: str, event_payload: Any, with_facts: Facts) -> str:
    with pytest.raises(GuardRefused) as refused:
        fire(route, state, event, payload=event_payload, facts=with_facts)
    assert refused.value.event == event
    return refused.value.reason


@pytest.mark.parametrize("route", list(STAGES))
def test_checks_cannot_complete_without_a_check(route: Route) -> None:
    reason = refusal(route, "checks", "complete_checks", payload("complete_checks"),
                     facts(checks_recorded=0))
    assert reason == "needs at least one recorded check"


@pytest.mark.parametrize("route", list(STAGES))
def test_disclosure_recipient_must_be_a_party(route: Route) -> None:
    reason = refusal(route, "awaiting_decision", "record_decision",
                     ordinary("record_decision", recipient_party_id=99), facts())
    assert reason == "the recipient must be a party to this request (party 99 is not)"


@pytest.mark.parametrize("route", list(STAGES))
@pytest.mark.parametrize(("party", "role"), [(SUBJECT, "subject"), (REFERRER, "referrer")])
def test_disclosure_cannot_go_to_the_subject_or_the_referrer(
    route: Route, party: int, role: str
) -> None:
    reason = refusal(route, "awaiting_decision", "record_decision",
                     ordinary("record_decision", recipient_party_id=party), facts())
    assert reason == f"a disclosure cannot be made to the {role}"


@pytest.mark.parametrize("route", list(STAGES))
def test_four_eyes_refuses_the_officer_who_completed_the_checks(route: Route) -> None:
    reason = refusal(route, "awaiting_decision", "record_decision", ordinary("record_decision"),
                     facts(actor=OFFICER))
    assert reason == (
        "a disclosure must be decided by someone other than the officer who completed the checks"
    )


def test_four_eyes_does_not_apply_to_a_no_disclosure_decision() -> None:
    moved = fire("right_to_ask", "awaiting_decision", "record_decision",
                 payload=payload("record_decision", **NO_DISCLOSURE), facts=facts(actor=OFFICER))
    assert moved == "awaiting_notice"


@pytest.mark.parametrize("route", list(STAGES))
def test_delivery_must_go_to_the_decided_recipient(route: Route) -> None:
    reason = refusal(route, "awaiting_delivery", "record_delivery",
                     ordinary("record_delivery", recipient_party_id=APPLICANT), facts())
    assert reason == f"the recipient must be the party named in the decision (party {AT_RISK})"


@pytest.mark.parametrize("route", list(STAGES))
def test_urgent_disclosure_must_name_its_authoriser(route: Route) -> None:
    for leaves_scheme in (True, False):
        reason = refusal(route, "checks", "take_immediate_action",
                         payload("take_immediate_action", urgent_disclosure=True,
                                 leaves_scheme=leaves_scheme),
                         facts())
        assert reason == "an urgent disclosure must name who authorised it"


@pytest.mark.parametrize("route", list(STAGES))
def test_partner_response_must_answer_an_open_partner_request(route: Route) -> None:
    reason = refusal(route, "checks", "record_partner_response",
                     ordinary("record_partner_response", partner_request_id=8), facts())
    assert reason == "partner request 8 is not awaiting a response on this request"


# Parties during a case ---------------------------------------------------------------------


def test_a_second_applicant_is_refused_on_the_right_to_ask() -> None:
    applicant = {"role": "applicant", "name": "Another Sample"}
    with pytest.raises(GuardRefused) as refused:
        fire("right_to_ask", "checks", "add_party", payload=ordinary("add_party", party=applicant),
             facts=facts())
    assert refused.value.reason == (
        "a right-to-ask request has one applicant; amend that party instead"
    )


def test_an_applicant_is_refused_on_the_right_to_know() -> None:
    applicant = {"role": "applicant", "name": "Another Sample"}
    with pytest.raises(GuardRefused) as refused:
        fire("right_to_know", "checks", "add_party",
             payload=ordinary("add_party", party=applicant), facts=facts())
    assert refused.value.reason == "a right-to-know request has no applicant"


def test_amending_someone_not_in_the_request_is_refused() -> None:
    with pytest.raises(GuardRefused) as refused:
        fire("right_to_ask", "awaiting_decision", "amend_party",
             payload=ordinary("amend_party", party_id=99), facts=facts())
    assert refused.value.reason == "party 99 is not a party to this request"
