"""Statistics and anonymised decisions for the Strategic Management Board and its advisers."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from api.problems import documented
from disclosure import oversight
from disclosure import statistics as counts
from disclosure.users import Principal
from disclosure.workflow import Workflow


@get("/api/stats", tags=["oversight"], responses=documented(400))
async def statistics(
    workflow: NamedDependency[Workflow], principal: NamedDependency[Principal]
) -> counts.Statistics:
    """Requests in your area counted by scheme, route, state and outcome."""
    async with workflow.db.report() as session:
        return await counts.read(session, area=principal.area)


@get("/api/decisions", tags=["oversight"], responses=documented(400))
async def decisions(
    workflow: NamedDependency[Workflow],
    principal: NamedDependency[Principal],
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    before: Annotated[int | None, QueryParameter(ge=1, le=2**62)] = None,
) -> oversight.DecisionPage:
    """Decisions in your area, newest first, with no names, addresses or wording."""
    async with workflow.db.report() as session:
        return await oversight.decisions(session, area=principal.area, limit=limit, before=before)
