"""MAPPA nominals and MAPP meetings: record, change, read and list them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from api.auth import require_area
from api.problems import WITH_BODY, documented
from api.requests import etag, parse_if_match
from disclosure import cursors
from disclosure.errors import InvalidInput
from disclosure.mapp.meetings import Filters, Meetings
from disclosure.mapp.nominals import Nominals
from disclosure.mapp.schemas import (
    MeetingEvent,
    MeetingPage,
    MeetingView,
    NewMeeting,
    NewNominal,
    NominalEvent,
    NominalView,
)
from disclosure.policy import LONDON
from disclosure.users import Principal

RecordId = Annotated[int, PathParameter(ge=1, le=2**62)]
DAY = r"^\d{4}-\d{2}-\d{2}$"


def _day_starts(name: str, day: str | None, *, after: bool = False) -> datetime | None:
    """When a London day starts (with `after`, the day after it), for a filter by day."""
    if day is None:
        return None
    try:
        start = datetime.combine(date.fromisoformat(day), time(), tzinfo=LONDON)
        return start + timedelta(days=1) if after else start
    except (ValueError, OverflowError):
        refused = f"{day!r} is not a day (YYYY-MM-DD) this service counts in"
        raise InvalidInput(name, refused) from None
IF_MATCH = (
    'The strong ETag of the version acted on, e.g. "3": missing is 428; stale, weak (W/) or'
    " malformed is 412."
)


@post("/api/nominals", tags=["mapp"], status_code=HTTP_201_CREATED,
      responses=documented(*WITH_BODY, 422))
async def create_nominal(
    data: JSONBody[NewNominal],
    nominals: NamedDependency[Nominals],
    principal: NamedDependency[Principal],
) -> Response[NominalView]:
    """Register a MAPPA nominal in your area. The answer is personal data, so it is logged."""
    require_area(principal, data.area)
    view = await nominals.register(data, actor=principal.username)
    return Response(view, status_code=HTTP_201_CREATED, headers={
        "Location": f"/api/nominals/{view.id}", "ETag": etag(view.version),
    })


@get("/api/nominals/{nominal_id:int}", tags=["mapp"], responses=documented(404))
async def read_nominal(
    nominal_id: RecordId,
    nominals: NamedDependency[Nominals],
    principal: NamedDependency[Principal],
) -> Response[NominalView]:
    """A nominal with the history of their category, level, location and risk, their meetings
    and the disclosures those meetings agreed; the ETag is the nominal's version (every event
    on its trail, its meetings' included). The view is logged."""
    view = await nominals.get(nominal_id, area=principal.area)
    return Response(view, headers={"ETag": etag(view.version)})


@post("/api/nominals/{nominal_id:int}/events", tags=["mapp"], status_code=200,
      responses=documented(*WITH_BODY, 404, 412, 428))
async def change_nominal(
    nominal_id: RecordId,
    data: JSONBody[NominalEvent],
    nominals: NamedDependency[Nominals],
    principal: NamedDependency[Principal],
    if_match: Annotated[str | None, HeaderParameter(
        name="If-Match", required=True, description=IF_MATCH)] = None,
) -> Response[NominalView]:
    """A dated change of the nominal's level, category, location (custody or community) or
    risk of serious harm. If-Match carries the nominal's ETag."""
    expected = parse_if_match(if_match)
    view = await nominals.change(
        nominal_id, data, actor=principal.username, expected_version=expected,
        area=principal.area,
    )
    return Response(view, headers={"ETag": etag(view.version)})


@post("/api/meetings", tags=["mapp"], status_code=HTTP_201_CREATED,
      responses=documented(*WITH_BODY, 404, 422))
async def create_meeting(
    data: JSONBody[NewMeeting],
    meetings: NamedDependency[Meetings],
    principal: NamedDependency[Principal],
) -> Response[MeetingView]:
    """Record a Level 2 or 3 MAPP meeting about a nominal of your area, as a draft; a nominal
    of another area is not found. The answer names people, so it is logged."""
    view = await meetings.create(data, actor=principal.username, area=principal.area)
    return Response(view, status_code=HTTP_201_CREATED, headers={
        "Location": f"/api/meetings/{view.id}", "ETag": etag(view.version),
    })


@get("/api/meetings", tags=["mapp"], responses=documented(400))
async def list_meetings(
    meetings: NamedDependency[Meetings],
    principal: NamedDependency[Principal],
    level: Annotated[Literal[2, 3] | None, QueryParameter()] = None,
    held_from: Annotated[str | None, QueryParameter(
        pattern=DAY, description="Held on or after this day (London), e.g. 2026-04-01.")] = None,
    held_to: Annotated[str | None, QueryParameter(
        pattern=DAY, description="Held on or before this day (London), e.g. 2027-03-31.")] = None,
    overdue_review: Annotated[bool | None, QueryParameter(
        description="true: the nominal's latest meeting, its review date passed, the nominal"
        " still at Level 2 or 3.")] = None,
    draft_older_than_days: Annotated[int | None, QueryParameter(
        ge=0, le=3650, description="Drafts held more than this many days ago.")] = None,
    nominal_id: Annotated[int | None, QueryParameter(ge=1, le=2**62)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(max_length=cursors.MAX_LENGTH)] = None,
) -> MeetingPage:
    """Your area's meetings, latest held first, with the review flags."""
    try:
        filters = Filters(
            level=level, held_from=_day_starts("held_from", held_from),
            held_to=_day_starts("held_to", held_to, after=True), overdue_review=overdue_review,
            draft_older_than_days=draft_older_than_days, nominal_id=nominal_id,
        )
    except ValueError as refused:
        # A day outside the years a time may lie in (Filters checks it, as every input does).
        raise InvalidInput(*str(refused).split(": ", 1)) from None
    return await meetings.search(filters, limit=limit, cursor=cursor, area=principal.area)


@get("/api/meetings/{meeting_id:int}", tags=["mapp"], responses=documented(404))
async def read_meeting(
    meeting_id: RecordId,
    meetings: NamedDependency[Meetings],
    principal: NamedDependency[Principal],
) -> Response[MeetingView]:
    """One meeting: who sat, its consideration, action points, the requests it started and its
    events; the ETag is the meeting's version. The view is logged."""
    view = await meetings.get(meeting_id, area=principal.area)
    return Response(view, headers={"ETag": etag(view.version)})


@post("/api/meetings/{meeting_id:int}/events", tags=["mapp"], status_code=200,
      responses=documented(*WITH_BODY, 404, 409, 412, 428))
async def send_meeting_event(
    meeting_id: RecordId,
    data: JSONBody[MeetingEvent],
    meetings: NamedDependency[Meetings],
    principal: NamedDependency[Principal],
    if_match: Annotated[str | None, HeaderParameter(
        name="If-Match", required=True, description=IF_MATCH)] = None,
) -> Response[MeetingView]:
    """Record the disclosure consideration (its agreed disclosures start right-to-know requests
    awaiting delivery), add action points, finalise (409 without a consideration), or amend
    finalised minutes with a reason. If-Match carries the meeting's ETag."""
    expected = parse_if_match(if_match)
    view = await meetings.apply(
        meeting_id, data, actor=principal.username, expected_version=expected,
        area=principal.area,
    )
    return Response(view, headers={"ETag": etag(view.version)})
