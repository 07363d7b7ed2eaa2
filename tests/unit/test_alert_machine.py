"""The repeat-subject alert's lifecycle: open until reviewed, one way or the other."""

from __future__ import annotations

import pytest

from statemachines.alerts import AlertEventNotAllowed, allowed_events, fire


@pytest.mark.parametrize("event", ["start_right_to_know", "record_no_action"])
def test_either_review_closes_an_open_alert(event: str) -> None:
    assert fire("open", event) == "reviewed"


def test_a_reviewed_alert_takes_nothing_more() -> None:
    assert allowed_events("reviewed") == ()
    with pytest.raises(AlertEventNotAllowed, match="not allowed while the alert is reviewed"):
        fire("reviewed", "record_no_action")
