"""Links between requests: a duplicate and the request it duplicates, a right-to-know review
and the requests that prompted it. Each shows on both requests."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import insert, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from disclosure.models import Request, RequestLink

LINKS = RequestLink.__table__.c


class LinkView(msgspec.Struct, kw_only=True):
    """A linked request: `direction` is `to` when this request made the link, `from` when the
    other one did (a duplicate of this one, a review this one prompted)."""

    kind: str
    direction: str
    reference: str
    state: str
    received_at: datetime


async def link(
    conn: AsyncConnection, *, kind: str, from_id: int, to_id: int, at: datetime, actor: str
) -> None:
    """Link two requests; a link made again (a reopened request found a duplicate once more)
    is kept once."""
    exists = await conn.scalar(select(LINKS.id).where(
        LINKS.kind == kind, LINKS.from_request_id == from_id, LINKS.to_request_id == to_id,
    ))
    if exists is not None:
        return
    await conn.execute(insert(RequestLink), {
        "kind": kind, "from_request_id": from_id, "to_request_id": to_id, "created_at": at,
        "created_by": actor,
    })


async def of(session: AsyncSession | AsyncConnection, request_id: int) -> list[LinkView]:
    """Every request linked to this one, either way, oldest link first."""
    both = union_all(
        select(LINKS.id, LINKS.kind, literal("to").label("direction"),
               LINKS.to_request_id.label("other"))
        .where(LINKS.from_request_id == request_id),
        select(LINKS.id, LINKS.kind, literal("from").label("direction"),
               LINKS.from_request_id.label("other"))
        .where(LINKS.to_request_id == request_id),
    ).subquery()
    rows = await session.execute(
        select(both.c.kind, both.c.direction, Request.reference, Request.state,
               Request.received_at)
        .join(Request, Request.id == both.c.other)
        .order_by(both.c.id, both.c.direction)
    )
    return [
        LinkView(kind=r.kind, direction=r.direction, reference=r.reference, state=r.state,
                 received_at=r.received_at)
        for r in rows
    ]
