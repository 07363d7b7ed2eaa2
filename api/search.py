"""Finding requests by the people in them, and the auditors' log of searches."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from api.problems import documented
from disclosure.schemas import NO_NUL
from disclosure.search.service import Finder, SearchLogPage, SearchPage
from disclosure.users import Principal


@get("/api/search", tags=["search"], responses=documented(400))
async def search(
    q: Annotated[str, QueryParameter(min_length=1, max_length=200, pattern=NO_NUL)],
    finder: NamedDependency[Finder],
    principal: NamedDependency[Principal],
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, QueryParameter(max_length=100)] = None,
) -> SearchPage:
    """Requests in your area by a party's name (close spellings too), date of birth, a safe
    contact's phone number or email, an organisation's name, or a reference. Best match first;
    each result says which party matched and in what role. Every search is logged."""
    return await finder.search(
        q, area=principal.area, searcher=principal.username, limit=limit, cursor=cursor
    )


@get("/api/searches", tags=["audit"], responses=documented(400))
async def list_searches(
    finder: NamedDependency[Finder],
    principal: NamedDependency[Principal],
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> SearchLogPage:
    """Every search in your area, newest first: who, when, the terms and the requests shown."""
    return await finder.log(area=principal.area, limit=limit, cursor=cursor)
