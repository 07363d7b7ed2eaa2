"""The search index: the normalised terms each party can be found by.

`index_parties` is the one function that writes it; every place that writes a party calls it
in the same transaction. On SQLite, triggers copy names into an FTS5 trigram table; on
PostgreSQL a trigger adds each new name to the area's distinct names (`search_names`, migration
0018), which a pg_trgm GIN index covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure.db import Database
from disclosure.models import Party, Request, SearchTerm
from disclosure.search import names

# The fields matched by similarity rather than equality.
FUZZY_FIELDS = ("name", "organisation")


def terms_of(party: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, normalised term) for every value a party can be found by."""
    found: list[tuple[str, str]] = []
    if party.get("kind") == "organisation":
        if party.get("name") and (value := names.organisation(party["name"])):
            found.append(("organisation", value))
    elif party.get("name") and (value := names.name(party["name"])):
        found.append(("name", value))
    if party.get("date_of_birth"):
        found.append(("date_of_birth", party["date_of_birth"]))
    contact = party.get("safe_contact") or {}
    details = contact.get("details") or ""
    if contact.get("method") == "phone" and (number := names.phone(details)):
        found.append(("phone", number))
    if contact.get("method") == "email" and (address := names.email(details)):
        found.append(("email", address))
    return found


def rows_of(
    *, request_id: int, area: str, parties: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The index rows of these parties (each with its `id`)."""
    return [
        {"request_id": request_id, "party_id": p["id"], "area": area, "role": p["role"],
         "field": field, "term": term[:200]}
        for p in parties
        for field, term in terms_of(p)
    ]


async def index_parties(
    conn: AsyncConnection, *, request_id: int, area: str, parties: Sequence[Mapping[str, Any]]
) -> None:
    """(Re)write the terms of these parties (each with its `id`), replacing any they had."""
    ids = [p["id"] for p in parties]
    if not ids:
        return
    await conn.execute(delete(SearchTerm).where(SearchTerm.party_id.in_(ids)))
    rows = rows_of(request_id=request_id, area=area, parties=parties)
    if rows:
        await conn.execute(insert(SearchTerm), rows)


async def reindex(db: Database, *, batch: int = 1000) -> int:
    """Rewrite every party's terms, a batch of requests per transaction; the parties indexed.

    For after a change to the normalisation: the index then matches what searches look for.
    """
    columns = (Party.id, Party.role, Party.kind, Party.name, Party.date_of_birth,
               Party.safe_contact)
    done = 0
    last = 0
    while True:
        async with db.write() as session, session.begin():
            conn = await session.connection()
            requests = (await conn.execute(
                select(Request.id, Request.area).where(Request.id > last)
                .order_by(Request.id).limit(batch)
            )).all()
            if not requests:
                return done
            rows = await conn.execute(
                select(Party.request_id, *columns)
                .where(Party.request_id.in_([r.id for r in requests]))
            )
            by_request: dict[int, list[dict[str, Any]]] = {}
            for row in rows.mappings():
                by_request.setdefault(row["request_id"], []).append(dict(row))
            for request in requests:
                parties = by_request.get(request.id, [])
                await index_parties(conn, request_id=request.id, area=request.area,
                                    parties=parties)
                done += len(parties)
            last = requests[-1].id
