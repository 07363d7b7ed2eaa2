"""The repeat-subject alert queue and its reviews."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from api.problems import WITH_BODY, documented
from api.requests import etag, parse_if_match
from disclosure import access
from disclosure.alerts.service import AlertEvent, AlertPage, Alerts, AlertView
from disclosure.reads import Visit
from disclosure.users import Principal

AlertId = Annotated[int, PathParameter(ge=1, le=2**62)]


@get("/api/alerts", tags=["alerts"], responses=documented(400))
async def list_alerts(
    alerts: NamedDependency[Alerts],
    principal: NamedDependency[Principal],
    visit: NamedDependency[Visit],
    in_state: Annotated[Literal["open", "reviewed"] | None, QueryParameter(name="state")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> AlertPage:
    """Your area's repeat-subject alerts, oldest first; `state=open` is the review queue. Each
    names its subject, so every request shown is put on the read trail."""
    return await alerts.list(area=principal.area, state=in_state, limit=limit, cursor=cursor,
                             visit=visit)


@post(
    "/api/alerts/{alert_id:int}/events", tags=["alerts"], status_code=200,
    responses=documented(*WITH_BODY, 404, 409, 412, 428),
)
async def review_alert(
    alert_id: AlertId,
    data: JSONBody[AlertEvent],
    alerts: NamedDependency[Alerts],
    principal: NamedDependency[Principal],
    visit: NamedDependency[Visit],
    if_match: Annotated[str | None, HeaderParameter(
        name="If-Match", required=True,
        description='The alert\'s strong ETag, e.g. "1": missing is 428; stale, weak (W/) or'
        " malformed is 412.",
    )] = None,
) -> Response[AlertView]:
    """Review an alert: start a right-to-know request linked to its requests, or record that
    no action is needed and why. If-Match carries the alert's ETag."""
    event = str(type(data).__struct_config__.tag)
    if not access.may_review(principal.roles, event):
        raise PermissionDeniedException(access.review_refusal(event))
    expected = parse_if_match(if_match)
    view = await alerts.apply(
        alert_id, data, actor=principal.username, area=principal.area,
        expected_version=expected, visit=visit,
    )
    return Response(view, headers={"ETag": etag(view.version)})
