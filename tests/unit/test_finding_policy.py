"""The finding policy: its settings, and the values it refuses."""

from __future__ import annotations

import pytest

from disclosure.search.matching import FindingPolicy
from disclosure.settings import Settings


def test_the_settings_carry_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SEARCH_THRESHOLD", "SAME_PERSON_WITH_DOB", "SAME_PERSON_NAME",
                 "REPEAT_REQUESTS", "REPEAT_PERSONS_AT_RISK", "REPEAT_WINDOW_DAYS"):
        monkeypatch.delenv(f"DISCLOSURE_{name}", raising=False)
    assert FindingPolicy.from_settings(Settings()) == FindingPolicy()
    monkeypatch.setenv("DISCLOSURE_REPEAT_REQUESTS", "2")
    assert FindingPolicy.from_settings(Settings()).repeat_requests == 2


@pytest.mark.parametrize(("field", "value", "message"), [
    ("same_person_name", 0.0, "DISCLOSURE_SAME_PERSON_NAME: must be above 0 and at most 1"),
    ("search_threshold", 1.5, "DISCLOSURE_SEARCH_THRESHOLD: must be above 0 and at most 1"),
    ("repeat_requests", 0, "DISCLOSURE_REPEAT_REQUESTS: must be at least 1"),
    ("repeat_window_days", -5, "DISCLOSURE_REPEAT_WINDOW_DAYS: must be at least 1"),
])
def test_a_policy_out_of_range_is_refused_naming_its_setting(
    field: str, value: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FindingPolicy(**{field: value})
