"""The requests resource: receive, list, read, and send lifecycle events."""

from __future__ import annotations

import re
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromQuery, HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import (
    HTTP_201_CREATED,
    HTTP_412_PRECONDITION_FAILED,
    HTTP_428_PRECONDITION_REQUIRED,
)

from api.auth import require_area, require_event
from api.metrics import TRANSITIONS
from api.problems import WITH_BODY, documented
from disclosure import cursors
from disclosure.policy import Stage
from disclosure.reads import Visit
from disclosure.schemas import (
    Actions,
    ClockView,
    EventPayload,
    EventView,
    NewRequest,
    RequestPage,
    RequestView,
    Route,
    Scheme,
    StateName,
    Transitioned,
)
from disclosure.timeliness import Queue
from disclosure.users import Principal
from disclosure.workflow import Filters, Workflow

Reference = Annotated[str, PathParameter(pattern=r"^[A-Z]{4,5}-\d{4}-\d{6}$", max_length=32)]


def etag(version: int) -> str:
    return f'"{version}"'


STRONG_ETAG = re.compile(r'"(\d{1,18})"')


def parse_if_match(value: str | None) -> int:
    """The version a strong ETag names; a weak or malformed one never matches (RFC 9110 13.1.1)."""
    if value is None:
        raise HTTPException(
            status_code=HTTP_428_PRECONDITION_REQUIRED,
            detail='If-Match is required: send the ETag of the request you acted on, e.g. "3"',
        )
    strong = STRONG_ETAG.fullmatch(value.strip())
    if strong is None:
        raise HTTPException(
            status_code=HTTP_412_PRECONDITION_FAILED,
            detail=f'If-Match: {value!r} matches no version; send the strong ETag, e.g. "3"',
        )
    return int(strong[1])


class RequestController(Controller):
    path = "/api/requests"
    tags = ("requests",)

    @post("/", status_code=HTTP_201_CREATED, responses=documented(*WITH_BODY, 422))
    async def receive(
        self,
        data: JSONBody[NewRequest],
        workflow: NamedDependency[Workflow],
        actor: NamedDependency[str],
        principal: NamedDependency[Principal],
        idempotency_key: Annotated[
            str | None, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=100)
        ] = None,
    ) -> Response[RequestView]:
        """Receive a new request. A repeat with the same Idempotency-Key answers the request
        made the first time; every answer carries its parties, so the view is logged."""
        require_area(principal, data.area)
        view = await workflow.create(data, actor=actor, idempotency_key=idempotency_key)
        return Response(
            view,
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/requests/{view.reference}", "ETag": etag(view.version)},
        )

    @get("/", responses=documented(400))
    async def list_requests(
        self,
        workflow: NamedDependency[Workflow],
        principal: NamedDependency[Principal],
        in_state: Annotated[StateName | None, QueryParameter(name="state")] = None,
        scheme: FromQuery[Scheme | None] = None,
        route: FromQuery[Route | None] = None,
        area: Annotated[str | None, QueryParameter(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = None,
        overdue: FromQuery[bool | None] = None,
        queue: FromQuery[Queue | None] = None,
        stage: FromQuery[Stage | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=cursors.MAX_LENGTH)] = None,
    ) -> RequestPage:
        """List requests, newest first; with a queue or stage, open ones by urgency."""
        filters = Filters(
            state=in_state, scheme=scheme, route=route, area=area, overdue=overdue, queue=queue,
            stage=stage,
        )
        return await workflow.search(filters, limit=limit, cursor=cursor, area=principal.area)

    @get("/{reference:str}", responses=documented(400, 404))
    async def read(
        self,
        reference: Reference,
        workflow: NamedDependency[Workflow],
        principal: NamedDependency[Principal],
        visit: NamedDependency[Visit],
    ) -> Response[RequestView]:
        """One request with its parties; the ETag is its version. The view is logged."""
        view = await workflow.get(reference, area=principal.area, visit=visit)
        return Response(view, headers={"ETag": etag(view.version)})

    @get("/{reference:str}/events", responses=documented(400, 404))
    async def timeline(
        self,
        reference: Reference,
        workflow: NamedDependency[Workflow],
        principal: NamedDependency[Principal],
        visit: NamedDependency[Visit],
    ) -> list[EventView]:
        """The request's timeline: every event, oldest first. The view is logged."""
        return await workflow.events(reference, area=principal.area, visit=visit)

    @get("/{reference:str}/clock", responses=documented(400, 404))
    async def clock(
        self,
        reference: Reference,
        workflow: NamedDependency[Workflow],
        principal: NamedDependency[Principal],
        visit: NamedDependency[Visit],
    ) -> ClockView:
        """Every due date of the request with its inputs and a sentence explaining it; extension
        reasons are free text, so the view is logged."""
        return await workflow.clock(reference, area=principal.area, visit=visit)

    @get("/{reference:str}/actions", responses=documented(400, 404))
    async def actions(
        self,
        reference: Reference,
        workflow: NamedDependency[Workflow],
        principal: NamedDependency[Principal],
    ) -> Actions:
        """The events the lifecycle allows now and your roles permit, each with the JSON Schema
        of its body."""
        return await workflow.actions(reference, roles=principal.roles, area=principal.area)

    @post(
        "/{reference:str}/events", status_code=200,
        responses=documented(*WITH_BODY, 404, 409, 412, 428),
    )
    async def send(
        self,
        reference: Reference,
        data: JSONBody[EventPayload],
        workflow: NamedDependency[Workflow],
        actor: NamedDependency[str],
        principal: NamedDependency[Principal],
        if_match: Annotated[str | None, HeaderParameter(
            name="If-Match", required=True,
            description='The strong ETag of the version acted on, e.g. "3": missing is 428; stale,'
            " weak (W/) or malformed is 412.",
        )] = None,
    ) -> Response[Transitioned]:
        """Send one lifecycle event; If-Match must carry the version it was decided on."""
        require_event(principal, data)
        expected = parse_if_match(if_match)
        result = await workflow.apply(
            reference, data, actor=actor, expected_version=expected, area=principal.area,
            roles=principal.roles,
        )
        TRANSITIONS.labels(event=result.event).inc()
        return Response(result, headers={"ETag": etag(result.version)})
