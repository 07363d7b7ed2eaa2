"""The read trail: who viewed a request's details or parties, when, and through which endpoint.

Each request has its own hash chain of views, kept apart from its event trail so that reading
a request never changes its version (the ETag everyone's If-Match depends on).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure import cursors
from disclosure.db import Database
from disclosure.models import Request, View
from disclosure.references import request_id

GENESIS = "0" * 64
Clock = Callable[[], datetime]


def link_hash(
    *, prev_hash: str, reference: str, seq: int, viewer: str, endpoint: str, viewed_at: datetime
) -> str:
    fields = [prev_hash, reference, seq, viewer, endpoint, viewed_at.isoformat()]
    return hashlib.sha256(msgspec.json.encode(fields)).hexdigest()


class ViewEntry(msgspec.Struct, kw_only=True):
    seq: int
    viewer: str
    endpoint: str
    viewed_at: datetime
    hash: str


class ViewPage(msgspec.Struct, kw_only=True):
    items: list[ViewEntry]
    next_cursor: str | None


class ReadLog:
    """Appends and lists views; a read that cannot be logged is not answered."""

    def __init__(self, db: Database, *, now: Clock = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.now = now

    async def record(self, reference: str, *, viewer: str, endpoint: str) -> None:
        # Two readers of one request can race for the next seq; the unique key makes one retry.
        for attempt in range(5):
            try:
                async with self.db.write() as session, session.begin():
                    await self._append(session, reference, viewer=viewer, endpoint=endpoint)
                return
            except IntegrityError:
                if attempt == 4:
                    raise

    async def _append(
        self, session: AsyncSession, reference: str, *, viewer: str, endpoint: str
    ) -> None:
        rid = await request_id(session, reference)
        last = (
            await session.execute(
                select(View.seq, View.hash)
                .where(View.request_id == rid)
                .order_by(View.seq.desc())
                .limit(1)
            )
        ).first()
        seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
        at = self.now()
        session.add(View(
            request_id=rid, seq=seq, viewer=viewer, endpoint=endpoint, viewed_at=at,
            prev_hash=prev,
            hash=link_hash(prev_hash=prev, reference=reference, seq=seq, viewer=viewer,
                           endpoint=endpoint, viewed_at=at),
        ))

    async def list(
        self, reference: str, *, area: str | None = None, limit: int = 100,
        cursor: str | None = None,
    ) -> ViewPage:
        """A page of a request's views, oldest first; `cursor` continues after the last one."""
        after = cursors.decode(cursor, int)[0] if cursor else 0
        async with self.db.read() as session:
            rid = await request_id(session, reference, area=area)
            rows = list(await session.scalars(
                select(View).where(View.request_id == rid, View.seq > after)
                .order_by(View.seq).limit(limit + 1)
            ))
        items = [
            ViewEntry(seq=v.seq, viewer=v.viewer, endpoint=v.endpoint,
                      viewed_at=v.viewed_at, hash=v.hash)
            for v in rows[:limit]
        ]
        more = len(rows) > limit
        return ViewPage(items=items, next_cursor=cursors.encode(items[-1].seq) if more else None)


async def verify(
    session: AsyncSession, *, reference: str | None = None
) -> tuple[int, tuple[str, int, str] | None]:
    """Walk the view chains; the number checked and the first broken link, if any."""
    query = (
        select(View, Request.reference)
        .join(Request, Request.id == View.request_id)
        .order_by(View.request_id, View.seq)
    )
    if reference is not None:
        query = query.where(Request.reference == reference)
    checked = 0
    current: int | None = None
    prev = GENESIS
    expected = 1
    rows = await session.stream(query.execution_options(yield_per=1000))
    async for view, ref in rows:
        if view.request_id != current:
            current, prev, expected = view.request_id, GENESIS, 1
        if view.seq != expected:
            return checked, (ref, expected, f"view {expected} is missing")
        if view.prev_hash != prev:
            return checked, (ref, view.seq, f"view {view.seq} does not link to the one before")
        recomputed = link_hash(
            prev_hash=prev, reference=ref, seq=view.seq, viewer=view.viewer,
            endpoint=view.endpoint, viewed_at=view.viewed_at,
        )
        if recomputed != view.hash:
            return checked, (ref, view.seq, f"view {view.seq} does not match its hash")
        prev, expected = view.hash, expected + 1
        checked += 1
    return checked, None
