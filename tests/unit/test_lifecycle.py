"""The lifecycles of both routes against the domain's own table: every state, every event."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from statemachine.exceptions import TransitionNotAllowed

from disclosure.recipients import eligibility
from statemachines.lifecycle import (
    EVENTS,
    EventNotAllowed,
    Facts,
    GuardRefused,
    PartyFacts,
    Route,
    allowed_events,
    fire,
    lifecycle,
)
from tests.factories import NO_DISCLOSURE, WORDING, payload, recipient, utc

OFFICER = "officer.ann"
DECIDER = "inspector.bob"
SUBJECT, AT_RISK, APPLICANT, REFERRER, CHILD, EMPLOYER = 1, 2, 3, 4, 5, 6
SAME = "(same state)"

# Written out from the domain's lifecycle table, not computed from the machines.
ALL_EVENTS = (
    "complete_initial_checks", "record_meeting", "record_check", "complete_checks",
    "record_decision", "record_delivery", "record_notice", "take_immediate_action",
    "extend_deadline", "recompute_clock", "record_partner_request", "record_partner_response",
    "withdraw", "close_no_engagement", "reopen", "record_non_delivery", "record_subject_told",
    "continue_as_right_to_know", "add_party",
    "amend_party", "record_panel_decision",
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
        "received": {"complete_initial_checks": "awaiting_meeting",
                     "continue_as_right_to_know": "closed"},
        "awaiting_meeting": {"record_meeting": "checks", "continue_as_right_to_know": "closed"},
        "checks": {"record_check": SAME, "complete_checks": "awaiting_decision",
                   "continue_as_right_to_know": "closed"},
        "awaiting_decision": {"record_decision": "awaiting_delivery",
                              "continue_as_right_to_know": "closed"},
        "awaiting_delivery": {"record_delivery": "closed", "record_non_delivery": "closed",
                              "record_subject_told": SAME},
        "awaiting_notice": {"record_notice": "closed", "record_subject_told": SAME},
    },
    "right_to_know": {
        # A MAPP meeting's agreed disclosure is decided as it is received.
        "received": {"complete_initial_checks": "checks",
                     "record_panel_decision": "awaiting_delivery"},
        "checks": {"record_check": SAME, "complete_checks": "awaiting_decision"},
        "awaiting_decision": {"record_decision": "awaiting_delivery"},
        "awaiting_delivery": {"record_delivery": "closed", "record_non_delivery": "closed",
                              "record_subject_told": SAME},
    },
}
CLOSED = {"reopen": "received", "record_subject_told": SAME}


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
        "prepared_by": {OFFICER: "complete_checks"},
        "open_partner_requests": frozenset({7}),
        "parties": {SUBJECT: PartyFacts("subject"), AT_RISK: PartyFacts("person_at_risk"),
                    APPLICANT: PartyFacts("applicant", relationship_code="parent"),
                    REFERRER: PartyFacts("referrer"), CHILD: PartyFacts("child"),
                    EMPLOYER: PartyFacts("recipient", "organisation", "employer")},
        "eligibility": eligibility("dvds", utc("2026-11-02T09:00:00Z")),
        "scheme": "dvds",
        "pending": {AT_RISK: WORDING},
        "authorisers": frozenset({"supt.example"}),
    }
    fields.update(overrides)
    return Facts(actor=actor, **fields)


def ordinary(event: str, **overrides: Any) -> Any:
    """A payload for the ordinary path of an event."""
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


URGENT = {"recipient_party_id": AT_RISK, "wording": WORDING, "delivered_by": "PC Example",
          "delivered_at": "2026-11-02T12:30:00Z", "authorised_by": "supt.example",
          "authoriser_rank": "superintendent"}


@pytest.mark.parametrize(("route", "state"), [(r, s) for r in STAGES for s in STAGES[r]])
def test_immediate_action_closes_only_when_the_case_leaves_the_scheme(
    route: Route, state: str
) -> None:
    leaves = payload("take_immediate_action", leaves_scheme=True)
    stays = payload("take_immediate_action", leaves_scheme=False, urgent_disclosure=URGENT)
    assert fire(route, state, "take_immediate_action", payload=leaves, facts=facts()) == "closed"
    assert fire(route, state, "take_immediate_action", payload=stays, facts=facts()) == state


def test_telling_the_subject_leaves_a_closed_request_closed() -> None:
    assert fire("right_to_know", "closed", "record_subject_told",
                payload=payload("record_subject_told"), facts=facts()) == "closed"


# Guards ----------------------------------------------------------------------------------------


def refusal(route: Route, state: str, event: str, event_payload: Any, with_facts: Facts) -> str:
    with pytest.raises(GuardRefused) as refused:
        fire(route, state, event, payload=event_payload, facts=with_facts)
    assert refused.value.event == event
    return refused.value.reason


def decide(route: Route = "right_to_ask", with_facts: Facts | None = None, **fields: Any) -> str:
    return fire(route, "awaiting_decision", "record_decision",
                payload=payload("record_decision", **fields), facts=with_facts or facts())


def decision_refused(with_facts: Facts | None = None, **fields: Any) -> str:
    return refusal("right_to_ask", "awaiting_decision", "record_decision",
                   payload("record_decision", **fields), with_facts or facts())


@pytest.mark.parametrize("route", list(STAGES))
def test_checks_cannot_complete_without_a_check(route: Route) -> None:
    reason = refusal(route, "checks", "complete_checks", payload("complete_checks"),
                     facts(checks_recorded=0))
    assert reason == "needs at least one recorded check"


# Who may receive ----------------------------------------------------------------------------

DVDS_RULE = eligibility("dvds", utc("2026-11-02T09:00:00Z")).rule
CSODS = eligibility("csods", utc("2026-11-02T09:00:00Z"))
MAPPA = eligibility("mappa", utc("2026-11-02T09:00:00Z"))


def test_disclosure_recipient_must_be_a_party() -> None:
    reason = decision_refused(recipients=[recipient(99)])
    assert reason == "the recipient must be a party to this request (party 99 is not)"


@pytest.mark.parametrize(("party", "role"),
                         [(SUBJECT, "subject"), (REFERRER, "referrer"), (CHILD, "child")])
@pytest.mark.parametrize("rule", ["dvds", "csods", "mappa"])
def test_a_disclosure_never_goes_to_the_subject_a_referrer_or_a_child(
    party: int, role: str, rule: str
) -> None:
    rules = eligibility(rule, utc("2026-11-02T09:00:00Z"))
    reason = decision_refused(facts(eligibility=rules, scheme="dvds"),
                              recipients=[recipient(party)])
    assert reason == (f"a disclosure is never made to the {role} (party {party});"
                      f" the rule is {rules.rule}")


def test_dvds_better_placed_parent_needs_the_reason_recorded() -> None:
    reason = decision_refused(recipients=[recipient(APPLICANT)])
    assert reason == (f"party {APPLICANT} (parent) may receive it only exceptionally: record"
                      f" better_placed_reason; the rule is {DVDS_RULE}")
    assert decide(recipients=[recipient(APPLICANT, better_placed_reason="She is 17 and her"
                                        " mother is best placed to protect her")]) == (
        "awaiting_delivery")


def test_dvds_refuses_an_organisation() -> None:
    reason = decision_refused(recipients=[recipient(EMPLOYER)])
    assert reason == (f"party {EMPLOYER} (recipient, organisation, relationship employer) may"
                      f" not receive this disclosure; the rule is {DVDS_RULE}")


def test_csods_only_a_parent_carer_or_guardian() -> None:
    csods = facts(eligibility=CSODS, scheme="csods")
    reason = decision_refused(csods, recipients=[recipient(AT_RISK)],
                              presumption_applies=True)
    assert reason == (f"party {AT_RISK} (person_at_risk, person, no relationship code) may not"
                      f" receive this disclosure; the rule is {CSODS.rule}")
    assert decide(with_facts=csods, recipients=[recipient(APPLICANT)],
                  presumption_applies=True) == "awaiting_delivery"


def test_mappa_may_name_an_organisation() -> None:
    mappa = facts(eligibility=MAPPA, scheme="mappa")
    assert decide("right_to_know", mappa, recipients=[recipient(EMPLOYER)]) == (
        "awaiting_delivery")


# The legal test -----------------------------------------------------------------------------


def _test(**parts: bool) -> dict[str, Any]:
    answers: dict[str, Any] = {
        name: {"met": parts.get(name, True), "rationale": "Reasoned"}
        for name in ("lawful", "pressing_need", "necessary", "proportionate")
    }
    return answers | {
        "data_protection_considered": parts.get("data_protection_considered", True),
        "rehabilitation_of_offenders_considered":
            parts.get("rehabilitation_of_offenders_considered", True),
    }


def test_disclose_needs_every_part_met() -> None:
    reason = decision_refused(legal_test=_test(pressing_need=False, proportionate=False))
    assert reason == "disclose needs every part of the legal test met; not met: pressing_need," \
        " proportionate"


def test_disclose_needs_data_protection_and_rehabilitation_considered() -> None:
    reason = decision_refused(legal_test=_test(rehabilitation_of_offenders_considered=False))
    assert reason == "disclose needs rehabilitation_of_offenders_considered true"


def test_not_necessary_proportionate_needs_a_part_not_met() -> None:
    reason = decision_refused(**{**NO_DISCLOSURE, "legal_test": _test()})
    assert reason == (
        "not_necessary_proportionate needs at least one part of the legal test not met")


def test_no_information_refused_when_a_check_holds_information() -> None:
    reason = decision_refused(
        facts(information_held=("the pnc check", "the probation response")),
        **{**NO_DISCLOSURE, "no_disclosure_reason": "no_information"},
    )
    assert reason == ("no_information cannot be the reason: information is held according to"
                      " the pnc check, the probation response")
    assert decide(**{**NO_DISCLOSURE, "no_disclosure_reason": "no_information"}) == (
        "awaiting_notice")


def test_a_referral_is_decided_after_full_checks() -> None:
    assert decide(decision="refer") == "awaiting_notice"
    assert decide("right_to_know", decision="refer") == "closed"


def test_csods_decision_records_the_presumption() -> None:
    csods = facts(eligibility=CSODS, scheme="csods")
    reason = decision_refused(csods, recipients=[recipient(APPLICANT)])
    assert reason == ("presumption_applies: a CSODS decision records whether the presumption to"
                      " disclose applies (convictions for child sexual offences)")
    assert decision_refused(presumption_applies=False) == (
        "presumption_applies: only a CSODS decision records it")


# Four eyes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["disclose", "no_disclosure", "refer"])
def test_four_eyes_refuses_anyone_who_prepared_the_request(decision: str) -> None:
    prepared = facts(actor=OFFICER, prepared_by={OFFICER: "record_meeting"})
    fields = NO_DISCLOSURE if decision == "no_disclosure" else {"decision": decision}
    reason = decision_refused(prepared, **fields)
    assert reason == ("a decision must be made by someone who prepared nothing on this request;"
                      f" {OFFICER} recorded record_meeting")


# Deliveries and non-deliveries --------------------------------------------------------------


def settle(event: str, with_facts: Facts, route: Route = "right_to_ask", **fields: Any) -> str:
    return fire(route, "awaiting_delivery", event, payload=payload(event, **fields),
                facts=with_facts)


def test_delivery_must_go_to_a_recipient_awaiting_it() -> None:
    reason = refusal("right_to_ask", "awaiting_delivery", "record_delivery",
                     payload("record_delivery", recipient_party_id=APPLICANT), facts())
    assert reason == (f"party {APPLICANT} is not a recipient of the decision awaiting delivery"
                      f" (awaiting: {AT_RISK})")
    reason = refusal("right_to_ask", "awaiting_delivery", "record_non_delivery",
                     payload("record_non_delivery", recipient_party_id=APPLICANT), facts())
    assert reason.startswith(f"party {APPLICANT} is not a recipient")


def test_the_request_waits_until_every_recipient_is_settled() -> None:
    two = facts(pending={AT_RISK: WORDING, APPLICANT: WORDING})
    assert settle("record_delivery", two) == "awaiting_delivery"
    assert settle("record_non_delivery", two) == "awaiting_delivery"
    assert settle("record_non_delivery", facts()) == "closed"


def test_a_third_party_applicant_is_owed_a_notice_after_the_last_recipient() -> None:
    owed = facts(notice_due=True)
    assert settle("record_delivery", owed) == "awaiting_notice"
    assert settle("record_non_delivery", owed) == "awaiting_notice"


def test_delivery_is_after_the_decision_and_not_in_the_future() -> None:
    decided = facts(decided_at=utc("2026-11-05T10:00:00Z"), now=utc("2026-11-06T12:00:00Z"))
    reason = refusal("right_to_ask", "awaiting_delivery", "record_delivery",
                     payload("record_delivery", delivered_at="2026-11-05T09:00:00Z"), decided)
    assert reason == "delivered_at: before the decision (2026-11-05T10:00:00+00:00)"
    reason = refusal("right_to_ask", "awaiting_delivery", "record_delivery",
                     payload("record_delivery", delivered_at="2026-11-06T13:00:00Z"), decided)
    assert reason == "delivered_at: is in the future"


def test_different_words_need_a_reason() -> None:
    reason = refusal("right_to_ask", "awaiting_delivery", "record_delivery",
                     payload("record_delivery", words_used="He has a record."), facts())
    assert reason == "different_words_reason: the words used differ from the approved wording"
    assert settle("record_delivery", facts(), words_used="He has a record.",
                  different_words_reason="She was distressed; kept it short") == "closed"


def test_withdraw_refused_once_a_disclosure_is_decided() -> None:
    reason = refusal("right_to_ask", "awaiting_delivery", "withdraw", payload("withdraw"),
                     facts(decision="disclose"))
    assert reason == "a disclosure has been decided on this request"
    assert fire("right_to_ask", "awaiting_notice", "withdraw", payload=payload("withdraw"),
                facts=facts(decision="no_disclosure")) == "closed"


# Urgent disclosures -------------------------------------------------------------------------


def urgent_refused(with_facts: Facts, **fields: Any) -> str:
    return refusal("right_to_ask", "checks", "take_immediate_action",
                   payload("take_immediate_action",
                           urgent_disclosure={**URGENT, **fields}), with_facts)


def test_urgent_disclosure_is_authorised_by_another_decision_maker() -> None:
    assert urgent_refused(facts(actor="supt.example")) == (
        "authorised_by: an urgent disclosure is authorised by a decision_maker other than the"
        " sender")
    assert urgent_refused(facts(), authorised_by="pc.nobody") == (
        "authorised_by: pc.nobody is not an active decision_maker in this area")


def test_urgent_disclosure_follows_the_recipient_rule() -> None:
    assert urgent_refused(facts(), recipient_party_id=SUBJECT) == (
        f"a disclosure is never made to the subject (party {SUBJECT}); the rule is {DVDS_RULE}")


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



class _Model:
    def __init__(self, state: str) -> None:
        self.state = state


def _by_machine(route: Route, state: str, event: str, *, payload: Any, facts: Facts) -> str:
    """What the python-statemachine machine itself does with the event."""
    model = _Model(state)
    lifecycle(route)(model=model).send(event, payload=payload, facts=facts)
    return model.state


def _outcome(send: Any, route: Route, state: str, event: str, sent: Any, given: Facts) -> str:
    """The state moved to, the guard's refusal, or that the event was not taken."""
    try:
        return str(send(route, state, event, payload=sent, facts=given))
    except GuardRefused as refused:
        return f"refused: {refused}"
    except (EventNotAllowed, TransitionNotAllowed):
        return "not taken"


# Each guard both ways: what the table's conditions and validators read.
VARIANTS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {}),
    ({"finding": "out_of_scope"}, {}),
    ({"identity_verified": False}, {}),
    ({"decision": "no_disclosure", **NO_DISCLOSURE}, {}),
    ({}, {"actor": OFFICER}),
    ({}, {"checks_recorded": 0}),
    ({}, {"pending": {AT_RISK: WORDING, APPLICANT: WORDING}}),
    ({}, {"pending": {AT_RISK: WORDING}, "notice_due": True}),
    ({}, {"pending": {}}),
    ({"leaves_scheme": True}, {}),
    ({}, {"open_partner_requests": frozenset()}),
]


@pytest.mark.parametrize(("route", "state", "event"), ALLOWED)
def test_fire_takes_the_transition_the_machine_takes(route: Route, state: str, event: str) -> None:
    """`fire` reads the table the machines are built from; both agree on every guard."""
    compared = 0
    for fields, known in VARIANTS:
        try:
            sent = ordinary(event, **fields)
        except msgspec.ValidationError:
            continue  # a field this event's payload does not have
        given = facts(**known)
        assert _outcome(fire, route, state, event, sent, given) == _outcome(
            _by_machine, route, state, event, sent, given
        ), (fields, known)
        compared += 1
    assert compared >= len(VARIANTS) // 2
