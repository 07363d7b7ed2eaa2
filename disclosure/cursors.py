"""Page cursors: the sort key of the last row a page showed, opaque to clients."""

from __future__ import annotations

import base64
import json
from typing import Any

from disclosure.errors import InvalidInput

# Row ids stay below this, so a forged cursor cannot overflow a 64-bit column.
MAX_ID = 2**62


def encode(*key: bool | int | float | str) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode(cursor: str, *shape: type) -> list[Any]:
    """The key a cursor carries, checked against the types this service put in it."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(key, list) or len(key) != len(shape):
            raise ValueError(cursor)
        for value, kind in zip(key, shape, strict=True):
            # bool is an int to Python; a cursor's id must not be one.
            if type(value) is not kind:
                raise ValueError(cursor)
            if type(value) is int and not 0 < value < MAX_ID:
                raise ValueError(cursor)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor", "not a cursor this service issued") from exc
    return key
