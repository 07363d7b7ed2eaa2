"""The permission tables in docs/access.md say what disclosure/access.py enforces."""

from __future__ import annotations

import re
from pathlib import Path

from disclosure import access
from disclosure.access import ALERT_EVENTS, ENDPOINTS, EVENTS, REVIEW_EVENTS, ROLES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "access.md").read_text()


def _rows(first_header: str) -> dict[str, list[str]]:
    table = DOC[DOC.index(f"| {first_header} |"):].split("\n\n")[0].splitlines()[2:]
    rows = {}
    for line in table:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells
    return rows


def test_endpoint_table_matches_the_rules() -> None:
    documented = {re.sub(r"`", "", cells[1]): cells[2:9] for cells in _rows("endpoint").values()}
    assert set(documented) == set(ENDPOINTS)
    for handler, ticks in documented.items():
        rule = ENDPOINTS[handler]
        expected = ["public" if rule.public else "✓" if role in rule.roles else ""
                    for role in ROLES]
        assert ticks == expected, handler


def test_event_table_matches_the_rules() -> None:
    documented = {re.sub(r"`", "", key): cells[1:8] for key, cells in _rows("event").items()}
    assert set(documented) == set(EVENTS)
    for event, ticks in documented.items():
        assert ticks == ["✓" if role in EVENTS[event] else "" for role in ROLES], event


def test_alert_event_table_matches_the_rules() -> None:
    documented = {re.sub(r"`", "", key): cells[1:8] for key, cells in _rows("alert event").items()}
    assert set(documented) == set(ALERT_EVENTS)
    for event, ticks in documented.items():
        assert ticks == ["✓" if role in ALERT_EVENTS[event] else "" for role in ROLES], event


def test_review_event_table_matches_the_rules() -> None:
    documented = {re.sub(r"`", "", key): cells[1:8]
                  for key, cells in _rows("review event").items()}
    assert set(documented) == set(REVIEW_EVENTS)
    for event, ticks in documented.items():
        assert ticks == ["✓" if role in REVIEW_EVENTS[event] else "" for role in ROLES], event


def test_some_form_of_an_event_is_allowed_exactly_when_a_variant_of_it_is() -> None:
    roles = sorted({role for allowed in access.EVENTS.values() for role in allowed})
    events = {key.partition(":")[0] for key in access.EVENTS} | {"no_such_event"}
    for role in roles:
        for event in events:
            variants = [allowed for key, allowed in access.EVENTS.items()
                        if key.partition(":")[0] == event]
            assert access.may_send_some({role}, event) == any(role in a for a in variants), (
                role, event)
    assert not access.may_send_some(frozenset(), "record_check")
