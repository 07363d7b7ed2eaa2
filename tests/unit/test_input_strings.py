"""Every string a client can send refuses a NUL character, so no body can reach PostgreSQL with
one: a new field cannot forget it."""

from __future__ import annotations

import re

from msgspec import inspect

from api.accounts import Login
from disclosure.alerts.service import RecordNoAction, StartRightToKnow
from disclosure.schemas import PAYLOADS, NewRequest


def _strings(info: inspect.Type, path: str) -> list[tuple[str, inspect.StrType]]:
    if isinstance(info, inspect.StrType):
        return [(path, info)]
    if isinstance(info, inspect.UnionType):
        return [s for t in info.types for s in _strings(t, path)]
    if isinstance(info, inspect.ListType):
        return _strings(info.item_type, f"{path}[]")
    if isinstance(info, inspect.StructType):
        return [s for f in info.fields for s in _strings(f.type, f"{path}.{f.name}")]
    return []


def test_every_input_string_refuses_a_nul_character() -> None:
    found = []
    for struct in (NewRequest, Login, StartRightToKnow, RecordNoAction, *PAYLOADS.values()):
        found += _strings(inspect.type_info(struct), struct.__name__)
    assert len(found) > 40
    admits_nul = [path for path, info in found
                  if info.pattern is None or re.search(info.pattern, "a\x00b")]
    assert admits_nul == []
