"""My queue: the area's open requests, overdue and due soon first, with filters; and the
search box's results."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from api.pages.layout import render
from disclosure import cursors
from disclosure.policy import Stage
from disclosure.schemas import NO_NUL, Route, Scheme, StateName
from disclosure.search.service import Finder
from disclosure.timeliness import Queue
from disclosure.users import Principal, Users
from disclosure.workflow import Filters, Workflow

PAGE_SIZE = 50
Code = Annotated[str | None, QueryParameter(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


@get("/queue")
async def page_queue(
    request: Request[Any, Any, Any],
    workflow: NamedDependency[Workflow],
    users: NamedDependency[Users],
    principal: NamedDependency[Principal],
    scheme: FromQuery[Scheme | None] = None,
    route: FromQuery[Route | None] = None,
    in_state: Annotated[StateName | None, QueryParameter(name="state")] = None,
    stage: FromQuery[Stage | None] = None,
    division: Code = None,
    queue: FromQuery[Queue | None] = None,
    cursor: Annotated[str | None, QueryParameter(max_length=cursors.MAX_LENGTH)] = None,
) -> Response[str]:
    """Open requests by urgency (immediate risk, then the soonest due); a state of `closed`
    lists closed ones, newest first."""
    filters = Filters(
        scheme=scheme, route=route, state=in_state, stage=stage, division=division, queue=queue,
        by_urgency=in_state != "closed",
    )
    page = await workflow.search(filters, limit=PAGE_SIZE, cursor=cursor, area=principal.area)
    now = workflow.now()
    rows = [
        {
            "item": item,
            # As clocks.status says of a deadline: within the policy's due-soon window.
            "due_soon": not item.overdue and item.state != "closed" and item.due_at is not None
            and item.due_at <= now + workflow.policy.due_soon,
        }
        for item in page.items
    ]
    chosen = {"scheme": scheme, "route": route, "state": in_state, "stage": stage,
              "division": division, "queue": queue}
    return render(
        request, "queue.html", rows=rows, next_cursor=page.next_cursor, chosen=chosen,
        filters=[
            ("queue", "Urgency", get_args(Queue)),
            ("scheme", "Scheme", get_args(Scheme)),
            ("route", "Route", get_args(Route)),
            ("state", "State", get_args(StateName)),
            ("stage", "Stage", get_args(Stage)),
            ("division", "Division", (await users.areas()).get(principal.area, [])),
        ],
        query={k: v for k, v in chosen.items() if v},
    )


@get("/search")
async def page_search(
    request: Request[Any, Any, Any],
    finder: NamedDependency[Finder],
    principal: NamedDependency[Principal],
    q: Annotated[str, QueryParameter(min_length=1, max_length=200, pattern=NO_NUL)],
) -> Response[str]:
    """Requests in your area by a name, date of birth, contact or reference; logged."""
    found = await finder.search(q, area=principal.area, searcher=principal.username, limit=50,
                                cursor=None)
    return render(request, "search.html", q=q, hits=found.items)
