"""The read trail: who viewed a request's details or parties, when, and through which endpoint.

Each request has its own hash chain of views, kept apart from its event trail so that reading
a request never changes its version (the ETag everyone's If-Match depends on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import cursors, seals
from disclosure.db import Database
from disclosure.errors import NotFound
from disclosure.keys import TrailKeys
from disclosure.models import Base, NominalRead, View
from disclosure.references import request_id

GENESIS = "0" * 64
Clock = Callable[[], datetime]
VIEWS = Base.metadata.tables["views"]
REQUESTS = Base.metadata.tables["requests"]
NOMINAL_VIEWS = Base.metadata.tables["nominal_views"]
NOMINALS = Base.metadata.tables["nominals"]
# Each read trail: its views, whose they are, and the column joining them.
TRAILS: tuple[tuple[Table, Table, str], ...] = (
    (VIEWS, REQUESTS, "request_id"), (NOMINAL_VIEWS, NOMINALS, "nominal_id"),
)


# The head of a request's view chain. Readers of one request take the next seq in turn: the
# caller holds the request row locked until the view is written (SQLite's writers are one at a
# time already), and reads the head only once it holds the lock.
_HEAD = (
    select(VIEWS.c.seq, VIEWS.c.hash).where(VIEWS.c.request_id == bindparam("rid"))
    .order_by(VIEWS.c.seq.desc()).limit(1)
)
_INSERT_VIEW = insert(VIEWS)


@dataclass(slots=True)
class Visit:
    """One person reading a request through one endpoint; `logged` once it is on the trail."""

    viewer: str
    endpoint: str
    logged: bool = False


async def append(
    conn: AsyncConnection, keys: TrailKeys, *, rid: int, reference: str, visit: Visit,
    at: datetime,
) -> None:
    """Put one read on the request's view chain, in the caller's transaction, which holds the
    request row locked: two statements."""
    head = (await conn.execute(_HEAD, {"rid": rid})).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    await conn.execute(_INSERT_VIEW, {
        "request_id": rid, "seq": seq, "viewer": visit.viewer, "endpoint": visit.endpoint,
        "viewed_at": at, "prev_hash": prev, "key_id": keys.current,
        "hash": keys.sign(link_message(prev_hash=prev, reference=reference, seq=seq,
                                       viewer=visit.viewer, endpoint=visit.endpoint,
                                       viewed_at=at)),
    })
    visit.logged = True


def link_message(
    *, prev_hash: str, reference: str, seq: int, viewer: str, endpoint: str, viewed_at: datetime
) -> bytes:
    """What one view's MAC covers."""
    fields = [prev_hash, reference, seq, viewer, endpoint, viewed_at.isoformat()]
    return msgspec.json.encode(fields)


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
        """Log one read in a transaction of its own (an answer that did not log its own)."""
        async with self.db.write() as session, session.begin():
            rid = await request_id(session, reference, lock=True)
            await append(await session.connection(), self.db.keys, rid=rid, reference=reference,
                         visit=Visit(viewer, endpoint), at=self.now())

    async def record_nominal(self, nominal_id: int, *, viewer: str, endpoint: str) -> None:
        """Log a read of a MAPPA nominal, or of one of its meetings, on the nominal's chain."""
        async with self.db.write() as session, session.begin():
            # The nominal row is locked until the view is written, as a request's is.
            reference = await session.scalar(
                select(NOMINALS.c.reference).where(NOMINALS.c.id == nominal_id).with_for_update()
            )
            if reference is None:
                raise NotFound(f"nominal {nominal_id}")
            last = (await session.execute(
                select(NominalRead.seq, NominalRead.hash)
                .where(NominalRead.nominal_id == nominal_id)
                .order_by(NominalRead.seq.desc()).limit(1)
            )).first()
            seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
            at = self.now()
            keys = self.db.keys
            session.add(NominalRead(
                nominal_id=nominal_id, seq=seq, viewer=viewer, endpoint=endpoint, viewed_at=at,
                prev_hash=prev, key_id=keys.current,
                hash=keys.sign(link_message(prev_hash=prev, reference=reference, seq=seq,
                                            viewer=viewer, endpoint=endpoint, viewed_at=at)),
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


def _view_problem(
    keys: TrailKeys, prev: str, expected: int, ref: str, seq: int, viewer: str, endpoint: str,
    viewed_at: datetime, prev_hash: str, mac: str, key_id: str | None,
) -> tuple[int, str] | None:
    if seq != expected:
        return expected, f"view {expected} is missing"
    if prev_hash != prev:
        return seq, f"view {seq} does not link to the one before"
    if key_id is None:
        return seq, f"view {seq} is not keyed (see `audit reseal`)"
    recomputed = keys.mac(key_id, link_message(
        prev_hash=prev, reference=ref, seq=seq, viewer=viewer, endpoint=endpoint,
        viewed_at=viewed_at,
    ))
    if recomputed is None:
        return seq, f"view {seq} is keyed with key {key_id}, which the trail key file does not hold"
    if recomputed != mac:
        return seq, f"view {seq} does not match its hash"
    return None


async def verify(
    conn: AsyncConnection,
    keys: TrailKeys,
    found: list[seals.Broken],
    *,
    reference: str | None = None,
    area: str | None = None,
) -> int:
    """Walk the view chains of requests (and, checking no one request, of nominals) in one
    stream each, adding the first broken link of each to `found`; the number of views
    checked."""
    checked = 0
    for views, owners, key in TRAILS if reference is None else TRAILS[:1]:
        query = (
            select(
                views.c[key], owners.c.reference, views.c.seq, views.c.viewer,
                views.c.endpoint, views.c.viewed_at, views.c.prev_hash, views.c.hash,
                views.c.key_id,
            )
            .join(owners, owners.c.id == views.c[key])
            .order_by(views.c[key], views.c.seq)
        )
        if reference is not None:
            query = query.where(owners.c.reference == reference)
        if area is not None:
            query = query.where(owners.c.area == area)
        checked += await _verify_views(conn, keys, found, query)
        if len(found) >= seals.LIMIT:
            break
    return checked


async def _verify_views(
    conn: AsyncConnection, keys: TrailKeys, found: list[seals.Broken], query: Any
) -> int:
    checked = 0
    current: int | None = None
    prev = GENESIS
    expected = 1
    broken = False
    async for batch in seals.driver_batches(conn, query):
        for rid, ref, seq, viewer, endpoint, viewed_at, prev_hash, mac, key_id in batch:
            if rid != current:
                current, prev, expected, broken = rid, GENESIS, 1, False
            checked += 1
            if broken:
                continue
            problem = _view_problem(keys, prev, expected, ref, seq, viewer, endpoint,
                                    viewed_at, prev_hash, mac, key_id)
            if problem is not None:
                found.append(seals.Broken("views", ref, *problem))
                if len(found) >= seals.LIMIT:
                    return checked
                broken = True
                continue
            prev, expected = mac, expected + 1
    return checked
