"""The recipient rules: one per scheme in force, and docs/decisions.md says what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from disclosure.policy import PolicyError
from disclosure.recipients import NEVER, RULES, eligibility
from tests.factories import utc

DOC = (Path(__file__).resolve().parents[2] / "docs" / "decisions.md").read_text()


def test_the_documented_rules_are_the_policy_table() -> None:
    for rule in RULES:
        row = f"| `{rule.scheme}` | {rule.effective_from.isoformat()} | {rule.eligibility.rule} |"
        assert row in DOC


def test_no_scheme_ever_discloses_to_the_subject_a_referrer_or_a_child() -> None:
    assert {"subject", "referrer", "child"} == NEVER
    for rule in RULES:
        assert rule.eligibility.never == NEVER
        assert not NEVER & rule.eligibility.by_role


def test_the_rule_in_force_is_looked_up_by_scheme_and_date() -> None:
    dvds = eligibility("dvds", utc("2026-11-02T09:00:00Z"))
    assert dvds.by_role == {"person_at_risk"}
    assert dvds.relationships == {"parent": True, "guardian": True, "carer": True}
    csods = eligibility("csods", utc("2026-11-02T09:00:00Z"))
    assert csods.relationships == {"parent": False, "carer": False, "guardian": False}
    assert "employer" in eligibility("mappa", utc("2026-11-02T09:00:00Z")).relationships


def test_before_any_rule_is_refused_with_the_date() -> None:
    with pytest.raises(PolicyError, match="no csods recipient rule was in force on 2009-01-01"):
        eligibility("csods", utc("2009-01-01T12:00:00Z"))
