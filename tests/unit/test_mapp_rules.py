"""The review-interval policy and the meeting lifecycle, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from disclosure.mapp.intervals import ReviewIntervals
from disclosure.policy import PolicyError, load_policy_book
from statemachines.lifecycle import GuardRefused
from statemachines.meeting import (
    EVENTS,
    GUARDS,
    MeetingEventNotAllowed,
    MeetingFacts,
    allowed_events,
    fire,
)

HELD = datetime(2026, 10, 1, 10, tzinfo=UTC)


def test_level_2_is_reviewed_within_16_weeks_and_level_3_within_8_in_the_community() -> None:
    policy = ReviewIntervals()
    assert policy.review_due(held_at=HELD, level=2, location="community",
                             set_by_meeting=None) == HELD + timedelta(weeks=16)
    assert policy.review_due(held_at=HELD, level=3, location="community",
                             set_by_meeting=None) == HELD + timedelta(weeks=8)


def test_in_custody_the_meeting_sets_the_date_and_none_is_due_without_one() -> None:
    policy = ReviewIntervals()
    assert policy.review_due(held_at=HELD, level=3, location="custody",
                             set_by_meeting=None) is None
    release_plan = HELD + timedelta(weeks=30)
    assert policy.review_due(held_at=HELD, level=3, location="custody",
                             set_by_meeting=release_plan) == release_plan


def test_a_meeting_may_set_an_earlier_review_but_never_a_later_one() -> None:
    policy = ReviewIntervals()
    sooner, later = HELD + timedelta(weeks=4), HELD + timedelta(weeks=20)
    assert policy.review_due(held_at=HELD, level=2, location="community",
                             set_by_meeting=sooner) == sooner
    assert policy.review_due(held_at=HELD, level=2, location="community",
                             set_by_meeting=later) == HELD + timedelta(weeks=16)


def test_the_policy_file_changes_the_intervals_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[mapp_review]\ncode = "force-2027"\nlevel_2_weeks = 12\n'
                    "custody_level_3_weeks = 26\n")
    review = load_policy_book(path).mapp_review
    assert (review.code, review.weeks(2, "community"), review.weeks(3, "community")) == (
        "force-2027", 12, 8)
    assert review.weeks(3, "custody") == 26
    assert f"Overridden by policy override {path}" in review.source
    path.write_text("[mapp_review]\nlevel_2_weeks = 0\n")
    with pytest.raises(PolicyError, match=r"mapp_review\.level_2_weeks"):
        load_policy_book(path)


def test_a_draft_is_finalised_only_once_its_consideration_is_recorded() -> None:
    with pytest.raises(GuardRefused, match="without its disclosure consideration"):
        fire("draft", "finalise", MeetingFacts(considered=False))
    assert fire("draft", "finalise", MeetingFacts(considered=True)) == "finalised"


def test_the_consideration_is_recorded_once_and_finalised_minutes_only_amended() -> None:
    assert fire("draft", "record_consideration", MeetingFacts()) == "draft"
    with pytest.raises(GuardRefused, match="recorded already"):
        fire("draft", "record_consideration", MeetingFacts(considered=True))
    assert allowed_events("finalised") == ("amend",)
    with pytest.raises(MeetingEventNotAllowed, match="allowed now: amend"):
        fire("finalised", "add_action_points", MeetingFacts(considered=True))
    assert set(allowed_events("draft")) | set(allowed_events("finalised")) == set(EVENTS)


def test_the_guards_listed_for_the_docs_are_the_ones_the_machine_runs() -> None:
    # Each listed guard refuses its event when its facts are wrong, so the list cannot drift.
    wrong = {"not_yet_considered": MeetingFacts(considered=True),
             "consideration_recorded": MeetingFacts(considered=False)}
    assert {name for name, _ in GUARDS} == set(wrong)
    for name, event in GUARDS:
        with pytest.raises(GuardRefused):
            fire("draft", event, wrong[name])
