"""The lifecycle of a decision review: a sample drawn, findings recorded, the review completed."""

from __future__ import annotations

from functools import cache

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from statemachines.lifecycle import EventNotAllowed

STATES = ("drawn", "in_review", "completed")
EVENTS: tuple[str, ...] = ("record_finding", "release_record", "complete")


class ReviewEventNotAllowed(EventNotAllowed):
    """An event the review's lifecycle does not take in its current state."""

    def __init__(self, event: str, state: str, allowed: tuple[str, ...]) -> None:
        super().__init__(event, state, allowed)
        self.args = (
            f"{event} is not allowed while the review is {state}; allowed now: "
            + (", ".join(allowed) or "nothing"),
        )


class ReviewLifecycle(StateMachine):
    """drawn → in_review by the first finding; completed once every decision has one."""

    drawn = State(initial=True)
    in_review = State()
    completed = State(final=True)

    record_finding = drawn.to(in_review) | in_review.to(in_review)
    # An auditor releases a decision's names and free text to the reviewers.
    release_record = drawn.to(drawn) | in_review.to(in_review)
    complete = in_review.to(completed, cond="every_decision_has_a_finding")

    def every_decision_has_a_finding(self, unreviewed: int = 0) -> bool:
        return unreviewed == 0


class _Row:
    """The minimal model the machine binds to: the review's state column."""

    def __init__(self, state: str) -> None:
        self.state = state


@cache
def allowed_events(state: str) -> tuple[str, ...]:
    """The events a review in this state takes (a guard may still refuse one)."""
    machine = ReviewLifecycle(model=_Row(state))
    allowed = {e.id for e in machine.allowed_events}
    return tuple(e for e in EVENTS if e in allowed)


def fire(state: str, event: str, *, unreviewed: int = 0) -> str | None:
    """The state a review moves to; None if a condition holds it where it is (completing with
    decisions still unreviewed). Raises ReviewEventNotAllowed for an event its state refuses."""
    if event not in allowed_events(state):
        raise ReviewEventNotAllowed(event, state, allowed_events(state))
    row = _Row(state)
    try:
        ReviewLifecycle(model=row).send(event, unreviewed=unreviewed)
    except TransitionNotAllowed:
        return None
    if row.state == state and event == "complete":
        return None
    return row.state
