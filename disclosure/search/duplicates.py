"""Possible duplicates: other requests of the area naming the same subject or person at risk.

One statement for all of a request's parties, built once for each number of parties compared
(its values bound at each call), bounded to the best `SHOWN`, with the number of requests
found beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, Final, NamedTuple

import msgspec
from sqlalchemy import (
    Float,
    Select,
    String,
    bindparam,
    func,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from disclosure.models import Request
from disclosure.search import matching, names

# A party in the first role is the same person as a party in one of the others.
COMPARED: Final[dict[str, tuple[str, str]]] = {
    "subject": ("subject", "subject"),
    "person_at_risk": ("person_at_risk", "child"),
    "child": ("person_at_risk", "child"),
}
# The most possible duplicates a request shows: closest first, then newest. Enough for the
# officer to see the ones that matter; `total` says how many there are in all, and a search
# for the name pages through every one.
SHOWN: Final = 10

T, R = matching.T, matching.R


class PossibleDuplicate(msgspec.Struct, kw_only=True):
    """Another request naming someone policy counts as the same person, in the role given."""

    reference: str
    scheme: str
    route: str
    state: str
    outcome: str | None
    received_at: datetime
    role: str
    name: str | None
    date_of_birth: str | None
    similarity: float


class Found(NamedTuple):
    """The best `SHOWN` possible duplicates, and how many other requests were found in all."""

    shown: list[PossibleDuplicate]
    total: int


NONE: Final = Found([], 0)


def _compared(dialect: str, i: int) -> list[Select[Any]]:
    """The parties of the area's other requests that policy counts as the same person as the
    i-th party compared, in the roles compared with its role (`matching.same_person`)."""
    return matching.same_person(
        dialect,
        name=bindparam(f"name_{i}", type_=String),
        fts=bindparam(f"fts_{i}", type_=String) if dialect != "postgresql" else None,
        born=bindparam(f"born_{i}", type_=String),
        area=bindparam("area", type_=String),
        roles=[bindparam(f"role_{i}", type_=String), bindparam(f"also_{i}", type_=String)],
        same_name=bindparam("same_name", type_=Float),
        with_dob=bindparam("with_dob", type_=Float),
        other_than=bindparam("request_id", type_=T.request_id.type),
    )


@cache
def statement(dialect: str, compared: int) -> Select[Any]:
    """The possible duplicates of `compared` parties, built once: each other request once, by
    its closest match (the same date of birth first, then the most similar name), closest
    first, then newest; `total` counts them all."""
    found = union_all(
        *(branch for i in range(compared) for branch in _compared(dialect, i))
    ).subquery()
    closeness = found.c.same_dob + found.c.similarity
    best = select(found, func.row_number().over(
        partition_by=found.c.request_id, order_by=(closeness.desc(), found.c.party_id),
    ).label("n")).subquery()
    return (
        select(best.c.role, best.c.name, best.c.date_of_birth, best.c.similarity,
               R.reference, R.scheme, R.route, R.state, R.outcome, R.received_at,
               func.count().over().label("total"))
        .join(Request.__table__, R.id == best.c.request_id)
        .where(best.c.n == 1)
        .order_by((best.c.same_dob + best.c.similarity).desc(), R.received_at.desc(),
                  R.id.desc())
        .limit(SHOWN)
    )


def parameters(
    dialect: str, policy: matching.FindingPolicy, *, request_id: int, area: str,
    parties: Sequence[matching.Named],
) -> dict[str, Any]:
    """The values `statement` takes for these parties: those of the roles compared with a
    name that can match (on SQLite, one with a word of three letters)."""
    values: dict[str, Any] = {
        "area": area, "request_id": request_id, "same_name": policy.same_person_name,
        "with_dob": policy.same_person_with_dob,
    }
    i = 0
    for party in parties:
        if party.role not in COMPARED or not party.name:
            continue
        name = names.name(party.name)
        fts = names.fts_query(name)
        if dialect != "postgresql":
            if fts is None:
                continue
            values[f"fts_{i}"] = fts
        values[f"role_{i}"], values[f"also_{i}"] = COMPARED[party.role]
        values[f"name_{i}"], values[f"born_{i}"] = name, party.date_of_birth
        i += 1
    values["compared"] = i
    return values


async def possible(
    db: AsyncSession | AsyncConnection,
    dialect: str,
    policy: matching.FindingPolicy,
    *,
    request_id: int,
    area: str,
    parties: Sequence[matching.Named],
) -> Found:
    """The best `SHOWN` other requests naming the same people, each once with its closest
    match, and how many there are in all."""
    values = parameters(dialect, policy, request_id=request_id, area=area, parties=parties)
    compared = values.pop("compared")
    if not compared:
        return NONE
    # The trigram index finds names at least as similar as policy asks without a date of birth.
    await matching.prepare(db, dialect, policy.same_person_name)
    rows = (await db.execute(statement(dialect, compared), values)).all()
    return Found(
        [PossibleDuplicate(
            reference=row.reference, scheme=row.scheme, route=row.route, state=row.state,
            outcome=row.outcome, received_at=row.received_at, role=row.role, name=row.name,
            date_of_birth=row.date_of_birth, similarity=round(row.similarity, 3),
        ) for row in rows],
        rows[0].total if rows else 0,
    )
