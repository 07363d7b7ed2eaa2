"""Page cursors: the sort key of the last row a page showed, opaque to clients.

A key is a few booleans, integers and nulls (a due date travels as microseconds since the epoch),
so the longest cursor this service can issue is short and known: `MAX_LENGTH`, the cap the API
puts on the `cursor` parameter.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from disclosure.errors import InvalidInput

# Row ids and instants stay below this, so a forged cursor cannot overflow a 64-bit column.
MAX_ID = 2**62
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

Key = bool | int | float | str | None


def encode(*key: Key) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode(cursor: str, *shape: type | tuple[type, ...]) -> list[Any]:
    """The key a cursor carries, checked against the types this service put in it.

    Each entry of `shape` is a type, or a tuple of the types that place may hold.
    """
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(key, list) or len(key) != len(shape):
            raise ValueError(cursor)
        for value, kinds in zip(key, shape, strict=True):
            # bool is an int to Python; an id or an instant must not be one.
            if type(value) not in (kinds if isinstance(kinds, tuple) else (kinds,)):
                raise ValueError(cursor)
            if type(value) is int and not 0 < value < MAX_ID:
                raise ValueError(cursor)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor", "not a cursor this service issued") from exc
    return key


def instant(at: datetime) -> int:
    """An aware datetime as whole microseconds since the epoch, exactly."""
    return (at - _EPOCH) // _MICROSECOND


def from_instant(micros: int) -> datetime:
    try:
        return _EPOCH + micros * _MICROSECOND
    except OverflowError as exc:
        raise InvalidInput("cursor", "not a cursor this service issued") from exc


# The longest key any listing puts in a cursor: an immediate-risk flag, a due date and an id.
MAX_LENGTH = len(encode(False, MAX_ID - 1, MAX_ID - 1))
