"""The lifecycle of a repeat-subject alert: open until a review starts a right-to-know request
or records that no action is needed."""

from __future__ import annotations

from functools import cache

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from statemachines.lifecycle import EventNotAllowed

STATES = ("open", "reviewed")


class AlertEventNotAllowed(EventNotAllowed):
    """An event the alert's lifecycle does not take in its current state."""

    def __init__(self, event: str, state: str, allowed: tuple[str, ...]) -> None:
        super().__init__(event, state, allowed)
        self.args = (
            f"{event} is not allowed while the alert is {state}; allowed now: "
            + (", ".join(allowed) or "nothing"),
        )


class AlertLifecycle(StateMachine):
    """open → reviewed, by one of the two outcomes of a review."""

    open = State(initial=True)
    reviewed = State(final=True)

    start_right_to_know = open.to(reviewed)
    record_no_action = open.to(reviewed)


EVENTS: tuple[str, ...] = ("start_right_to_know", "record_no_action")


class _Row:
    """The minimal model the machine binds to: the alert's state column."""

    def __init__(self, state: str) -> None:
        self.state = state


@cache
def allowed_events(state: str) -> tuple[str, ...]:
    """The events an alert in this state takes."""
    machine = AlertLifecycle(model=_Row(state))
    allowed = {e.id for e in machine.allowed_events}
    return tuple(e for e in EVENTS if e in allowed)


def fire(state: str, event: str) -> str:
    """The state an alert moves to; raises AlertEventNotAllowed if its state does not take it."""
    if event not in allowed_events(state):
        raise AlertEventNotAllowed(event, state, allowed_events(state))
    row = _Row(state)
    try:
        AlertLifecycle(model=row).send(event)
    except TransitionNotAllowed as exc:
        raise AlertEventNotAllowed(event, state, allowed_events(state)) from exc
    return row.state
