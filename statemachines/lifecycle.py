"""The request lifecycles of both routes, declared as one transition table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

Route = Literal["right_to_ask", "right_to_know"]
ROUTES: tuple[Route, ...] = ("right_to_ask", "right_to_know")
ASK: tuple[Route, ...] = ("right_to_ask",)

STATES = (
    "received",
    "awaiting_meeting",
    "checks",
    "awaiting_decision",
    "awaiting_delivery",
    "awaiting_notice",
    "closed",
)
ROUTE_STATES: dict[Route, tuple[str, ...]] = {
    "right_to_ask": STATES,
    "right_to_know": tuple(s for s in STATES if s not in ("awaiting_meeting", "awaiting_notice")),
}
OPEN = "*open"
ITSELF = "*itself"

# Findings of the initial checks that end the request there.
CLOSING_FINDINGS = frozenset({"out_of_scope", "duplicate", "referred_safeguarding"})


class GuardRefused(Exception):
    """An event the lifecycle allows in this state, refused by one of its guards."""

    def __init__(self, event: str, reason: str) -> None:
        super().__init__(f"{event}: {reason}")
        self.event = event
        self.reason = reason


class EventNotAllowed(Exception):
    """An event the lifecycle does not allow in the request's current state."""

    def __init__(self, event: str, state: str, allowed: tuple[str, ...]) -> None:
        super().__init__(
            f"{event} is not allowed while the request is {state}; allowed now: "
            + (", ".join(allowed) or "nothing")
        )
        self.event = event
        self.state = state
        self.allowed = allowed


@dataclass(frozen=True)
class Facts:
    """What the guards need to know about a request's records, gathered by the caller."""

    actor: str
    checks_recorded: int = 0
    checks_completed_by: str | None = None
    open_partner_requests: frozenset[int] = frozenset()
    parties: Mapping[int, str] = field(default_factory=dict)
    decision: str | None = None
    decision_recipient: int | None = None


@dataclass(frozen=True)
class Transition:
    """One row of the lifecycle: an event taking a request from sources to a target."""

    event: str
    sources: tuple[str, ...]
    target: str
    cond: str | None = None
    unless: str | None = None
    validators: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ROUTES


def _rows() -> tuple[Transition, ...]:
    T = Transition
    return (
        T("complete_initial_checks", ("received",), "closed", cond="initial_checks_close"),
        T("complete_initial_checks", ("received",), "awaiting_meeting", routes=ASK),
        T("complete_initial_checks", ("received",), "checks", routes=("right_to_know",)),
        T("record_meeting", ("awaiting_meeting",), "closed", unless="identity_verified",
          routes=ASK),
        T("record_meeting", ("awaiting_meeting",), "checks", routes=ASK),
        T("record_check", ("checks",), ITSELF),
        T("complete_checks", ("checks",), "awaiting_decision", validators=("has_checks",)),
        T("record_decision", ("awaiting_decision",), "awaiting_delivery", cond="discloses",
          validators=("recipient_is_party", "four_eyes")),
        T("record_decision", ("awaiting_decision",), "awaiting_notice", routes=ASK),
        T("record_decision", ("awaiting_decision",), "closed", routes=("right_to_know",)),
        T("record_delivery", ("awaiting_delivery",), "closed",
          validators=("delivered_to_decided_recipient",)),
        T("record_notice", ("awaiting_notice",), "closed", routes=ASK),
        T("take_immediate_action", (OPEN,), "closed", cond="leaves_scheme",
          validators=("urgent_disclosure_authorised",)),
        T("take_immediate_action", (OPEN,), ITSELF, validators=("urgent_disclosure_authorised",)),
        # The extension cap is policy: the clock layer refuses what it does not allow.
        T("extend_deadline", (OPEN,), ITSELF),
        # Stored due dates brought into line with a changed policy, so the move is on the trail.
        T("recompute_clock", (OPEN,), ITSELF),
        T("record_partner_request", (OPEN,), ITSELF),
        T("record_partner_response", (OPEN,), ITSELF, validators=("answers_open_partner_request",)),
        # People come into a case, and their details change, while it is open.
        T("add_party", (OPEN,), ITSELF, validators=("one_applicant",), routes=ASK),
        T("add_party", (OPEN,), ITSELF, validators=("no_applicant",), routes=("right_to_know",)),
        T("amend_party", (OPEN,), ITSELF, validators=("amends_a_party",)),
        T("withdraw", (OPEN,), "closed", routes=ASK),
        T("close_no_engagement", (OPEN,), "closed"),
        T("reopen", ("closed",), "received"),
    )


TRANSITIONS = _rows()
EVENTS: tuple[str, ...] = tuple(dict.fromkeys(t.event for t in TRANSITIONS))


def _field(payload: Any, name: str) -> Any:
    if isinstance(payload, Mapping):
        return payload.get(name)
    return getattr(payload, name, None)


class Guards:
    """Conditions and validators shared by both routes; pure functions of payload and facts."""

    def initial_checks_close(self, payload: Any) -> bool:
        return _field(payload, "finding") in CLOSING_FINDINGS

    def identity_verified(self, payload: Any) -> bool:
        return bool(_field(payload, "identity_verified"))

    def discloses(self, payload: Any) -> bool:
        return bool(_field(payload, "decision") == "disclose")

    def leaves_scheme(self, payload: Any) -> bool:
        return bool(_field(payload, "leaves_scheme"))

    def has_checks(self, facts: Facts) -> None:
        if facts.checks_recorded < 1:
            raise GuardRefused("complete_checks", "needs at least one recorded check")

    # Validators run before the transition's own condition, so each checks its own scope.
    def recipient_is_party(self, payload: Any, facts: Facts) -> None:
        if not self.discloses(payload):
            return
        party = _field(payload, "recipient_party_id")
        if party not in facts.parties:
            raise GuardRefused(
                "record_decision",
                f"the recipient must be a party to this request (party {party} is not)",
            )
        if facts.parties[party] in ("subject", "referrer"):
            raise GuardRefused(
                "record_decision",
                f"a disclosure cannot be made to the {facts.parties[party]}",
            )

    def four_eyes(self, payload: Any, facts: Facts) -> None:
        if not self.discloses(payload):
            return
        if facts.checks_completed_by is not None and facts.checks_completed_by == facts.actor:
            raise GuardRefused(
                "record_decision",
                "a disclosure must be decided by someone other than the officer who completed"
                " the checks",
            )

    def delivered_to_decided_recipient(self, payload: Any, facts: Facts) -> None:
        if _field(payload, "recipient_party_id") != facts.decision_recipient:
            raise GuardRefused(
                "record_delivery",
                f"the recipient must be the party named in the decision"
                f" (party {facts.decision_recipient})",
            )

    def urgent_disclosure_authorised(self, payload: Any) -> None:
        if _field(payload, "urgent_disclosure") and not _field(payload, "authorised_by"):
            raise GuardRefused(
                "take_immediate_action", "an urgent disclosure must name who authorised it"
            )

    def one_applicant(self, payload: Any, facts: Facts) -> None:
        if _field(_field(payload, "party"), "role") == "applicant" and (
            "applicant" in facts.parties.values()
        ):
            raise GuardRefused(
                "add_party", "a right-to-ask request has one applicant; amend that party instead"
            )

    def no_applicant(self, payload: Any) -> None:
        if _field(_field(payload, "party"), "role") == "applicant":
            raise GuardRefused("add_party", "a right-to-know request has no applicant")

    def amends_a_party(self, payload: Any, facts: Facts) -> None:
        party = _field(payload, "party_id")
        if party not in facts.parties:
            raise GuardRefused(
                "amend_party", f"party {party} is not a party to this request"
            )

    def answers_open_partner_request(self, payload: Any, facts: Facts) -> None:
        asked = _field(payload, "partner_request_id")
        if asked not in facts.open_partner_requests:
            raise GuardRefused(
                "record_partner_response",
                f"partner request {asked} is not awaiting a response on this request",
            )


def _build(route: Route) -> type[StateMachine]:
    names = ROUTE_STATES[route]
    states = {
        name: State(name.replace("_", " ").capitalize(), value=name, initial=name == "received")
        for name in names
    }
    open_states = [states[n] for n in names if n != "closed"]
    events: dict[str, Any] = {}
    for row in TRANSITIONS:
        if route not in row.routes:
            continue
        sources = open_states if row.sources == (OPEN,) else [states[s] for s in row.sources]
        for source in sources:
            target = source if row.target == ITSELF else states[row.target]
            kwargs: dict[str, Any] = {"validators": list(row.validators)}
            if row.cond:
                kwargs["cond"] = row.cond
            if row.unless:
                kwargs["unless"] = row.unless
            transitions = source.to(target, **kwargs)
            events[row.event] = events[row.event] | transitions if row.event in events else (
                transitions
            )
    name = "".join(part.capitalize() for part in route.split("_")) + "Lifecycle"
    attrs: dict[str, Any] = {"__module__": __name__, **states, **events}
    return type(name, (Guards, StateMachine), attrs)


@cache
def lifecycle(route: Route) -> type[StateMachine]:
    """The machine class of a route."""
    return _build(route)


class _Row:
    """The minimal model a machine binds to: the request's state column."""

    def __init__(self, state: str) -> None:
        self.state = state


@cache
def allowed_events(route: Route, state: str) -> tuple[str, ...]:
    """The events a request of this route may receive in this state, in table order."""
    machine = lifecycle(route)(model=_Row(state))
    allowed = {e.id for e in machine.allowed_events}
    return tuple(e for e in EVENTS if e in allowed)


@cache
def _bound(route: Route) -> tuple[StateMachine, _Row]:
    """One machine per route, rebound to each request's state: building one costs more than
    the transition itself, and its callbacks are synchronous, so sharing it is safe."""
    row = _Row("received")
    return lifecycle(route)(model=row), row


def fire(route: Route, state: str, event: str, *, payload: Any, facts: Facts) -> str:
    """Send an event to a request in `state` and return the state it moves to.

    Raises EventNotAllowed when the state does not take the event, GuardRefused when a
    guard refuses it.
    """
    if event not in allowed_events(route, state):
        raise EventNotAllowed(event, state, allowed_events(route, state))
    machine, row = _bound(route)
    row.state = state
    try:
        machine.send(event, payload=payload, facts=facts)
    except TransitionNotAllowed as exc:
        raise EventNotAllowed(event, state, allowed_events(route, state)) from exc
    return row.state
