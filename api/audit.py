"""The audit trail over HTTP: verification, and who viewed a request."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from api.problems import documented
from disclosure import audit
from disclosure.access import trail_scope
from disclosure.reads import ReadLog, ViewPage
from disclosure.users import Principal
from disclosure.verification import Verifier


@get("/api/audit/verify", tags=["audit"], responses=documented())
async def verify_trail(
    verifier: NamedDependency[Verifier], principal: NamedDependency[Principal]
) -> audit.Verdict:
    """Check the event and view chains and every row seal: an auditor's own area, an admin's
    every area. OK with the counts, or the first thing that does not verify. The checking runs
    in a worker process, so other requests are answered meanwhile."""
    return await verifier.verify(area=trail_scope(principal.roles, principal.area))


@get("/api/requests/{reference:str}/views", tags=["audit"], responses=documented(400, 404))
async def views(
    reference: Annotated[str, PathParameter(pattern=r"^[A-Z]{4,5}-\d{4}-\d{6}$", max_length=32)],
    reads: NamedDependency[ReadLog],
    principal: NamedDependency[Principal],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> ViewPage:
    """Who viewed this request's details or parties, when, and through which endpoint, oldest
    first, a page at a time (`next_cursor` continues)."""
    return await reads.list(reference, area=principal.area, limit=limit, cursor=cursor)
