"""The board's reports and decision reviews."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from api.headers import own_styles_csp
from api.problems import WITH_BODY, documented
from api.requests import etag, parse_if_match
from disclosure import access
from disclosure.errors import InvalidInput, NotFound
from disclosure.reports import exports
from disclosure.reports.metrics import SPECS
from disclosure.reports.periods import BadPeriod, parse
from disclosure.reports.service import report
from disclosure.reviews.service import (
    NewReview,
    ReleasedRecord,
    ReviewEvent,
    Reviews,
    ReviewSummary,
    ReviewView,
)
from disclosure.schemas import EARLIEST, LATEST
from disclosure.settings import Settings
from disclosure.users import Principal
from disclosure.workflow import Workflow

TableId = Literal[
    "dvds_return", "csods_return", "outcomes", "timeliness", "open_at_period_end",
    "by_division", "mapp", "third_party_and_reasons", "equality", "decision_reviews",
]
assert set(SPECS) == set(TableId.__args__)  # type: ignore[attr-defined]
ReviewId = Annotated[int, PathParameter(ge=1, le=2**62)]
# The three written forms of a period (disclosure/reports/periods.py says which are real).
PERIOD_PATTERN = r"^(\d{4}-\d{2}(-Q[1-4])?|\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2})$"


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("as_at", "is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise InvalidInput("as_at", "needs a time zone, e.g. 2026-04-01T00:00:00Z")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise InvalidInput(
            "as_at", f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} in UTC")
    return utc


@get("/api/reports/annual", tags=["reports"], responses=documented(400, 404))
async def annual_report(
    workflow: NamedDependency[Workflow],
    principal: NamedDependency[Principal],
    settings: NamedDependency[Settings],
    period: Annotated[str, QueryParameter(
        max_length=32, pattern=PERIOD_PATTERN,
        description="2025-26, 2025-26-Q3, or 2025-04-01..2025-06-30")],
    report_format: Annotated[Literal["json", "csv", "ods", "html"], QueryParameter(
        name="format")] = "json",
    table: Annotated[TableId | None, QueryParameter(
        description="csv and json: one table; csv without it is every table, one line per"
        " cell")] = None,
    area: Annotated[str | None, QueryParameter(
        max_length=64, description="your own area (the default)")] = None,
    as_at: Annotated[str | None, QueryParameter(
        max_length=40, description="the figures as the records stood at this moment")] = None,
    publish: Annotated[bool, QueryParameter(
        description="suppress small counts in every table")] = False,
) -> Response[bytes]:
    """Every table of the board's report for your area and a period, with the period before
    and the change, in JSON, CSV, ODS (one sheet per table) or the printable annual report."""
    if area is not None and area != principal.area:
        raise NotFound(area, what="area")
    try:
        chosen = parse(period)
    except BadPeriod as bad:
        raise InvalidInput("period", str(bad)) from None
    moment = _moment(as_at)
    async with workflow.db.report() as session:
        made = await report(
            session, area=principal.area, period=chosen, produced_at=workflow.now(),
            as_at=moment, publish=publish or access.always_suppressed(principal.roles),
            suppress_below=settings.suppress_below,
        )
    body = exports.render(made, report_format, table=table)
    headers = {}
    if report_format in ("csv", "ods"):
        name = f"{principal.area}-{chosen.key}{'-' + table if table else ''}.{report_format}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    if report_format == "html":
        headers["Content-Security-Policy"] = own_styles_csp(body)
    return Response(body, media_type=exports.MEDIA_TYPES[report_format], headers=headers)


@post("/api/reviews", tags=["reviews"], status_code=201, responses=documented(*WITH_BODY))
async def draw_review(
    data: JSONBody[NewReview],
    reviews: NamedDependency[Reviews],
    principal: NamedDependency[Principal],
) -> Response[ReviewView]:
    """Draw a sample of your area's decisions closed in a period, stratified by outcome and
    reproducible from the seed."""
    view = await reviews.draw(data, area=principal.area, actor=principal.username)
    return Response(view, status_code=201, headers={
        "Location": f"/api/reviews/{view.id}", "ETag": etag(view.version)})


@get("/api/reviews", tags=["reviews"], responses=documented(400))
async def list_reviews(
    reviews: NamedDependency[Reviews], principal: NamedDependency[Principal]
) -> list[ReviewSummary]:
    """Your area's decision reviews, newest first."""
    return await reviews.list(area=principal.area)


@get("/api/reviews/{review_id:int}", tags=["reviews"], responses=documented(400, 404))
async def read_review(
    review_id: ReviewId, reviews: NamedDependency[Reviews], principal: NamedDependency[Principal]
) -> Response[ReviewView]:
    """A review: each sampled decision anonymised (codes, answers, times) and its findings."""
    view = await reviews.get(review_id, area=principal.area)
    return Response(view, headers={"ETag": etag(view.version)})


@post(
    "/api/reviews/{review_id:int}/events", tags=["reviews"], status_code=200,
    responses=documented(*WITH_BODY, 404, 409, 412, 428),
)
async def review_event(
    review_id: ReviewId,
    data: JSONBody[ReviewEvent],
    reviews: NamedDependency[Reviews],
    principal: NamedDependency[Principal],
    if_match: Annotated[str | None, HeaderParameter(
        name="If-Match", required=True,
        description='The review\'s strong ETag, e.g. "1": missing is 428; stale is 412.',
    )] = None,
) -> Response[ReviewView]:
    """Record a finding, release a decision's record (an auditor), or complete the review."""
    event = str(type(data).__struct_config__.tag)
    if not access.may_act_on_review(principal.roles, event):
        raise PermissionDeniedException(access.review_event_refusal(event))
    expected = parse_if_match(if_match)
    view = await reviews.apply(review_id, data, actor=principal.username,
                               area=principal.area, expected_version=expected)
    return Response(view, headers={"ETag": etag(view.version)})


@get("/api/reviews/{review_id:int}/decisions/{reference:str}", tags=["reviews"],
     responses=documented(400, 404))
async def released_decision(
    review_id: ReviewId,
    reference: Annotated[str, PathParameter(max_length=32)],
    reviews: NamedDependency[Reviews],
    principal: NamedDependency[Principal],
) -> ReleasedRecord:
    """A sampled decision in full, once an auditor has released it; each read is on the
    request's read trail."""
    return await reviews.released(review_id, reference, area=principal.area)
