"""Possible duplicates: other requests of the area naming the same subject or person at risk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from disclosure.models import Party, Request
from disclosure.search import matching

# A party in the first role is the same person as a party in one of the others.
COMPARED: Final[dict[str, tuple[str, ...]]] = {
    "subject": ("subject",),
    "person_at_risk": ("person_at_risk", "child"),
    "child": ("person_at_risk", "child"),
}


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


async def possible(
    db: AsyncSession | AsyncConnection,
    dialect: str,
    policy: matching.FindingPolicy,
    *,
    request_id: int,
    area: str,
    parties: Sequence[matching.Named],
) -> list[PossibleDuplicate]:
    """Newest first; each other request once, with its closest match."""
    await matching.prepare(db, dialect, policy.candidate_threshold)
    best: dict[str, PossibleDuplicate] = {}
    for party in parties:
        if party.role not in COMPARED or not party.name:
            continue
        rows = matching.same_person(
            dialect, policy, name=party.name, date_of_birth=party.date_of_birth, area=area,
            roles=COMPARED[party.role],
        ).subquery()
        found = await db.execute(
            select(rows.c.role, rows.c.similarity, Request.reference, Request.scheme,
                   Request.route, Request.state, Request.outcome, Request.received_at,
                   Party.name, Party.date_of_birth)
            .join(Request, Request.id == rows.c.request_id)
            .join(Party, Party.id == rows.c.party_id)
            .where(rows.c.request_id != request_id)
        )
        for row in found:
            seen = best.get(row.reference)
            if seen is None or row.similarity > seen.similarity:
                best[row.reference] = PossibleDuplicate(
                    reference=row.reference, scheme=row.scheme, route=row.route,
                    state=row.state, outcome=row.outcome, received_at=row.received_at,
                    role=row.role, name=row.name, date_of_birth=row.date_of_birth,
                    similarity=round(row.similarity, 3),
                )
    return sorted(best.values(), key=lambda d: d.received_at, reverse=True)
