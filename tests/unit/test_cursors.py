"""Page cursors round-trip what the service put in them and refuse anything else."""

from __future__ import annotations

import base64
import json

import pytest

from disclosure import cursors
from disclosure.errors import InvalidInput


def forged(*key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def test_round_trip_keeps_a_false_flag_and_the_id() -> None:
    cursor = cursors.encode(False, "2026-11-30T23:59:59+00:00", 42)
    assert cursors.decode(cursor, bool, str, int) == [False, "2026-11-30T23:59:59+00:00", 42]


@pytest.mark.parametrize("cursor", [
    "!!",
    forged(10**20),
    forged(2**62),
    forged(0),
    forged(True),
    forged("7"),
    forged(1, 2),
])
def test_forged_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        cursors.decode(cursor, int)
