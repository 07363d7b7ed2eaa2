"""The lifecycle of a MAPP meeting's minutes: a draft until finalised, which needs the
disclosure consideration every Level 2 and 3 meeting must record; amended only with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from statemachines.lifecycle import EventNotAllowed, GuardRefused

STATES = ("draft", "finalised")
EVENTS: tuple[str, ...] = ("record_consideration", "add_action_points", "finalise", "amend")


class MeetingEventNotAllowed(EventNotAllowed):
    """An event the meeting's lifecycle does not take in its current state."""

    def __init__(self, event: str, state: str, allowed: tuple[str, ...]) -> None:
        super().__init__(event, state, allowed)
        self.args = (
            f"{event} is not allowed while the meeting is {state}; allowed now: "
            + (", ".join(allowed) or "nothing"),
        )


@dataclass(frozen=True)
class MeetingFacts:
    """What the meeting's guards look at, gathered by the caller."""

    considered: bool = False


class MeetingLifecycle(StateMachine):
    """draft → finalised; the consideration and action points are recorded on the draft."""

    draft = State(initial=True)
    finalised = State()

    record_consideration = draft.to(draft, validators="not_yet_considered")
    add_action_points = draft.to(draft)
    finalise = draft.to(finalised, validators="consideration_recorded")
    amend = finalised.to(finalised)

    def not_yet_considered(self, facts: MeetingFacts) -> None:
        """The meeting has no disclosure consideration yet: what it agreed is acted on at once,
        so it is recorded once (a later change is an amendment or a new meeting)."""
        if facts.considered:
            raise GuardRefused(
                "record_consideration", "the meeting's disclosure consideration is recorded"
                " already"
            )

    def consideration_recorded(self, facts: MeetingFacts) -> None:
        """Every Level 2 and 3 meeting considers disclosure: no disclosure needed with the
        rationale, or the disclosures it agreed."""
        if not facts.considered:
            raise GuardRefused(
                "finalise", "a meeting cannot be finalised without its disclosure consideration:"
                " record_consideration first (no disclosure needed with the rationale, or the"
                " disclosures agreed)"
            )


class _Row:
    """The minimal model the machine binds to: the meeting's state column."""

    def __init__(self, state: str) -> None:
        self.state = state


@cache
def allowed_events(state: str) -> tuple[str, ...]:
    """The events a meeting in this state takes."""
    machine = MeetingLifecycle(model=_Row(state))
    allowed = {e.id for e in machine.allowed_events}
    return tuple(e for e in EVENTS if e in allowed)


# The guards with the event each is checked on, as the transitions above declare them.
GUARDS: tuple[tuple[str, str], ...] = (
    ("not_yet_considered", "record_consideration"), ("consideration_recorded", "finalise"),
)


def guards() -> list[tuple[str, str, str]]:
    """Each guard: its name, the event it is checked on, and what it refuses unless."""
    return [
        (name, event, " ".join((getattr(MeetingLifecycle, name).__doc__ or "").split()))
        for name, event in GUARDS
    ]


def fire(state: str, event: str, facts: MeetingFacts) -> str:
    """The state a meeting moves to; raises MeetingEventNotAllowed if its state does not take
    the event, GuardRefused if a guard refuses it."""
    if event not in allowed_events(state):
        raise MeetingEventNotAllowed(event, state, allowed_events(state))
    row = _Row(state)
    try:
        MeetingLifecycle(model=row).send(event, facts=facts)
    except TransitionNotAllowed as exc:
        raise MeetingEventNotAllowed(event, state, allowed_events(state)) from exc
    return row.state
