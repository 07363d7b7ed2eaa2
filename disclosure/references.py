"""Request references: resolving a reference such as DVDS-2026-000042 to its row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure.errors import NotFound
from disclosure.models import Request


async def request_id(
    session: AsyncSession, reference: str, *, area: str | None = None, lock: bool = False
) -> int:
    """The row id of a request; with `area`, another area's request is not found; with `lock`,
    the row stays locked until the transaction ends."""
    query = select(Request.id).where(Request.reference == reference)
    if area is not None:
        query = query.where(Request.area == area)
    if lock:
        query = query.with_for_update()
    rid = await session.scalar(query)
    if rid is None:
        raise NotFound(reference)
    return rid
