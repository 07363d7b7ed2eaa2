"""Searching requests by the people in them, and the log of every search for auditors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Select, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure import cursors
from disclosure.db import Database
from disclosure.models import Party, Request, Search, SearchResult
from disclosure.search import duplicates, matching, names

Clock = Callable[[], datetime]


class Match(msgspec.Struct, kw_only=True):
    """Why a request was found: the party (and its role) or the reference that matched."""

    field: str
    role: str | None
    name: str | None
    date_of_birth: str | None
    similarity: float


class SearchHit(msgspec.Struct, kw_only=True):
    reference: str
    scheme: str
    route: str
    state: str
    outcome: str | None
    received_at: datetime
    score: float
    matches: list[Match]


class SearchPage(msgspec.Struct, kw_only=True):
    items: list[SearchHit]
    next_cursor: str | None


class SearchEntry(msgspec.Struct, kw_only=True):
    """One search as the auditor sees it: who, when, the terms, and the requests shown."""

    id: int
    searcher: str
    searched_at: datetime
    terms: str
    shown: list[str]


class SearchLogPage(msgspec.Struct, kw_only=True):
    items: list[SearchEntry]
    next_cursor: str | None


class Finder:
    """Finds requests in one area by a party's name, date of birth, safe contact, an
    organisation or a reference; every search is written to the search log."""

    def __init__(self, db: Database, policy: matching.FindingPolicy, *, now: Clock) -> None:
        self.db = db
        self.policy = policy
        self.now = now

    async def search(
        self, q: str, *, area: str, searcher: str, limit: int, cursor: str | None
    ) -> SearchPage:
        """Best match first (then newest); the search and what it showed are logged."""
        query = names.parse(q)
        page = self.page(query, area=area, limit=limit, cursor=cursor)
        async with self.db.read() as session:
            await matching.prepare(session, self.db.dialect, self.policy.search_threshold)
            found = (await session.execute(page)).all()
            more = len(found) > limit
            found = found[:limit]
            ids = [request.id for request, _ in found]
            why = await self._matches(session, query, area, ids)
        await self._log(q, area=area, searcher=searcher, shown=ids)
        return SearchPage(
            items=[
                SearchHit(
                    reference=r.reference, scheme=r.scheme, route=r.route, state=r.state,
                    outcome=r.outcome, received_at=r.received_at, score=round(s, 3),
                    matches=why.get(r.id, []),
                )
                for r, s in found
            ],
            next_cursor=(
                cursors.encode(float(found[-1][1]), found[-1][0].id) if more and found else None
            ),
        )

    def page(
        self, query: names.Query, *, area: str, limit: int, cursor: str | None
    ) -> Select[Request, float]:
        """One page of the requests matching, each with its score, best first (then newest)."""
        rows = matching.matches(
            self.db.dialect, query, area=area, threshold=self.policy.search_threshold
        ).subquery()
        score = (func.max(rows.c.similarity + rows.c.same_dob)).label("score")
        ranked = select(rows.c.request_id, score).group_by(rows.c.request_id).subquery()
        # The page is chosen from the index's rows alone; only its requests are read.
        best = (
            select(ranked)
            .order_by(ranked.c.score.desc(), ranked.c.request_id.desc())
            .limit(limit + 1)
        )
        if cursor is not None:
            last_score, last_id = cursors.decode(cursor, float, int)
            best = best.where(
                (ranked.c.score < last_score)
                | ((ranked.c.score == last_score) & (ranked.c.request_id < last_id))
            )
        shown = best.subquery()
        return (
            select(Request, shown.c.score)
            .join(shown, shown.c.request_id == Request.id)
            .order_by(shown.c.score.desc(), Request.id.desc())
        )

    async def duplicates(
        self, parties: Sequence[matching.Named], *, area: str, searcher: str
    ) -> list[duplicates.PossibleDuplicate]:
        """Possible duplicates of a request not yet saved, so the officer sees them before
        saving; the names compared go on the search log with the requests shown, as a search
        does."""
        async with self.db.read() as session:
            found = await duplicates.possible(
                session, self.db.dialect, self.policy, request_id=0, area=area, parties=parties,
            )
            ids = list((await session.scalars(
                select(Request.id).where(Request.reference.in_([d.reference for d in found.shown]))
            )).all())
        named = "; ".join(p.name for p in parties if p.name and p.role in duplicates.COMPARED)
        await self._log(f"possible duplicates of {named}", area=area, searcher=searcher,
                        shown=ids)
        return found.shown

    def why(self, query: names.Query, *, area: str, ids: list[int]) -> Select[Any]:
        """Each party (or the reference) of these requests that the query matches, closest
        first."""
        rows = matching.matches(
            self.db.dialect, query, area=area, threshold=self.policy.search_threshold,
            request_ids=ids,
        ).subquery()
        return (
            select(rows, Party.name, Party.date_of_birth)
            .outerjoin(Party, Party.id == rows.c.party_id)
            .order_by(rows.c.similarity.desc(), rows.c.party_id)
        )

    async def _matches(
        self, session: AsyncSession, query: names.Query, area: str, ids: list[int]
    ) -> dict[int, list[Match]]:
        if not ids:
            return {}
        found: dict[int, list[Match]] = {}
        for row in await session.execute(self.why(query, area=area, ids=ids)):
            found.setdefault(row.request_id, []).append(Match(
                field=row.field, role=row.role, name=row.name, date_of_birth=row.date_of_birth,
                similarity=round(row.similarity, 3),
            ))
        return found

    async def _log(self, q: str, *, area: str, searcher: str, shown: list[int]) -> None:
        """A search that cannot be logged is not answered: this raises before the answer."""
        async with self.db.write() as session, session.begin():
            conn = await session.connection()
            search_id = (await conn.execute(
                insert(Search).returning(Search.id),
                {"searcher": searcher, "area": area, "searched_at": self.now(),
                 "terms": q[:200], "results": len(shown)},
            )).scalar_one()
            if shown:
                await conn.execute(insert(SearchResult), [
                    {"search_id": search_id, "rank": rank, "request_id": rid}
                    for rank, rid in enumerate(shown, start=1)
                ])

    async def log(self, *, area: str, limit: int, cursor: str | None) -> SearchLogPage:
        """The area's searches, newest first, each with its terms and the requests it showed."""
        statement = (
            select(Search).where(Search.area == area).order_by(Search.id.desc()).limit(limit + 1)
        )
        if cursor is not None:
            (last_id,) = cursors.decode(cursor, int)
            statement = statement.where(Search.id < last_id)
        async with self.db.read() as session:
            searches = (await session.scalars(statement)).all()
            more = len(searches) > limit
            searches = searches[:limit]
            shown: dict[int, list[str]] = {}
            if searches:
                rows = await session.execute(
                    select(SearchResult.search_id, Request.reference)
                    .join(Request, Request.id == SearchResult.request_id)
                    .where(SearchResult.search_id.in_([s.id for s in searches]))
                    .order_by(SearchResult.search_id, SearchResult.rank)
                )
                for search_id, reference in rows:
                    shown.setdefault(search_id, []).append(reference)
        return SearchLogPage(
            items=[
                SearchEntry(id=s.id, searcher=s.searcher, searched_at=s.searched_at,
                            terms=s.terms, shown=shown.get(s.id, []))
                for s in searches
            ],
            next_cursor=cursors.encode(searches[-1].id) if more and searches else None,
        )
