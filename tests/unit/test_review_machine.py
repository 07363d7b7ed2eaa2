"""The decision review's lifecycle: findings move it on, completion waits for every one."""

from __future__ import annotations

import pytest

from statemachines.reviews import ReviewEventNotAllowed, allowed_events, fire


def test_a_review_moves_on_with_its_first_finding() -> None:
    assert fire("drawn", "record_finding") == "in_review"
    assert fire("in_review", "record_finding") == "in_review"
    assert fire("drawn", "release_record") == "drawn"


def test_completion_waits_for_a_finding_on_every_decision() -> None:
    assert fire("in_review", "complete", unreviewed=2) is None
    assert fire("in_review", "complete", unreviewed=0) == "completed"


@pytest.mark.parametrize(("state", "event"), [("drawn", "complete"),
                                              ("completed", "record_finding"),
                                              ("completed", "release_record")])
def test_an_event_its_state_does_not_take_is_refused(state: str, event: str) -> None:
    with pytest.raises(ReviewEventNotAllowed, match=f"while the review is {state}"):
        fire(state, event)
    assert event not in allowed_events(state)
