"""The Strategic Management Board's dashboard: the report's tables for a period, charts drawn
from them (each beside its table), the CSV, ODS and printable downloads, and the decision
reviews with their findings. Nothing here names anyone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_409_CONFLICT,
    HTTP_412_PRECONDITION_FAILED,
)

from api.pages import forms
from api.pages.layout import render
from disclosure import access
from disclosure.errors import EventNotAllowed, GuardRefused, InvalidInput, StaleVersion
from disclosure.reports.periods import BadPeriod, financial_year, last_financial_year, parse
from disclosure.reports.service import report
from disclosure.reports.tables import Table
from disclosure.reviews.service import Complete, NewReview, RecordFinding, Reviews
from disclosure.settings import Settings
from disclosure.users import Principal
from disclosure.workflow import Workflow

RecordId = Annotated[int, PathParameter(ge=1, le=2**62)]
# The tables drawn as charts as well, by their report table id: the chart reads the table.
CHARTED: Final = frozenset({"dvds_return", "outcomes", "by_division", "timeliness", "mapp"})
YEARS_OFFERED: Final = 5
REVIEW_EVENTS: Final[dict[str, type[Any]]] = {"record_finding": RecordFinding,
                                              "complete": Complete}


def chart_series(table: Table) -> list[str]:
    """The columns a table's chart draws: its first figure in the period and in the period
    before, side by side (the table beside it holds both, and the change)."""
    first = table.columns[0].id
    return [first, f"{first}_previous"]


def draw_form(values: forms.Values) -> forms.Form:
    return forms.payload_form(NewReview, values=values, form_id="draw", labels={
        "period": "Period to sample (for example 2025-26)", "seed": "Random seed",
        "per_outcome": "Decisions of each outcome",
    })


def periods(today_year_start: int) -> list[tuple[str, str]]:
    """The financial years offered in the picker, newest first, with their quarters."""
    offered = []
    for start in range(today_year_start, today_year_start - YEARS_OFFERED, -1):
        year = financial_year(start)
        offered.append((year.key, f"Financial year {year.key}"))
        offered += [(f"{year.key}-Q{q}", f"{year.key}, quarter {q}") for q in (1, 2, 3, 4)]
    return offered


@get("/dashboard")
async def page_dashboard(
    request: Request[Any, Any, Any], workflow: NamedDependency[Workflow],
    principal: NamedDependency[Principal], settings: NamedDependency[Settings],
    reviews: NamedDependency[Reviews],
    period: Annotated[str | None, QueryParameter(max_length=32)] = None,
) -> Response[str]:
    """The report for a period, the last financial year unless another is picked."""
    default = last_financial_year(workflow.now().date())
    error = None
    try:
        chosen = parse(period) if period else default
    except BadPeriod as bad:
        chosen, error = default, str(bad)
    async with workflow.db.report() as session:
        made = await report(
            session, area=principal.area, period=chosen, produced_at=workflow.now(),
            publish=access.always_suppressed(principal.roles),
            suppress_below=settings.suppress_below,
        )
    # The year in progress too, newest first.
    start = int(default.key[:4]) + 1
    return render(
        request, "dashboard.html", status=HTTP_400_BAD_REQUEST if error else 200,
        report=made, chosen=chosen, offered=periods(start), error=error,
        error_count=1 if error else 0, charted=CHARTED, chart_series=chart_series,
        reviews=await reviews.list(area=principal.area)
        if access.may_call(principal.roles, "page_review") else None,
        may_draw=access.may_call(principal.roles, "page_draw_review"),
        draw=draw_form({}),
    )


@post("/dashboard/reviews", status_code=303)
async def page_draw_review(
    request: Request[Any, Any, Any], reviews: NamedDependency[Reviews],
    principal: NamedDependency[Principal],
) -> Response[Any]:
    """Draw a sample of the period's decisions for the board to review."""
    submitted = await request.form()
    values = {key: submitted.getall(key) for key in submitted}
    form = draw_form(values)
    new = forms.convert(form, forms.read(form, values), NewReview)
    if new is not None:
        try:
            view = await reviews.draw(new, area=principal.area, actor=principal.username)
        except InvalidInput as exc:
            form.place(f"$.{exc.field}", str(exc).removeprefix(f"{exc.field}: "))
        else:
            return Redirect(f"/dashboard/reviews/{view.id}", status_code=303)
    return render(request, "review_draw.html", status=HTTP_400_BAD_REQUEST, form=form,
                  error_count=len(form.errors))


def finding_form(item: int | str, values: forms.Values | None = None) -> forms.Form:
    """The finding form of one sampled decision (each has its own on the page)."""
    return forms.payload_form(RecordFinding, values=values or {}, form_id=f"finding-{item}",
                              skip=("event", "item"))


@dataclass
class Sent:
    event: str
    item: str
    form: forms.Form
    message: str | None = None


async def review_page(
    request: Request[Any, Any, Any], review_id: int, *, reviews: Reviews,
    principal: Principal, status: int = 200, failed: Sent | None = None,
) -> Response[str]:
    view = await reviews.get(review_id, area=principal.area)
    may_find = view.state != "completed" and access.may_act_on_review(
        principal.roles, "record_finding")
    return render(request, "review.html", status=status, review=view, failed=failed,
                  may_find=may_find,
                  may_complete=view.state != "completed" and access.may_act_on_review(
                      principal.roles, "complete"),
                  finding_for=finding_form,
                  error_count=len(failed.form.errors) if failed else 0)


@get("/dashboard/reviews/{review_id:int}")
async def page_review(
    request: Request[Any, Any, Any], review_id: RecordId, reviews: NamedDependency[Reviews],
    principal: NamedDependency[Principal],
) -> Response[str]:
    """A decision review: each sampled decision anonymised, with the findings recorded."""
    return await review_page(request, review_id, reviews=reviews, principal=principal)


@post("/dashboard/reviews/{review_id:int}/events", status_code=303)
async def page_review_event(
    request: Request[Any, Any, Any], review_id: RecordId, reviews: NamedDependency[Reviews],
    principal: NamedDependency[Principal],
) -> Response[Any]:
    submitted = await request.form()
    values = {key: submitted.getall(key) for key in submitted}
    event = str(submitted.get("event") or "")
    item = str(submitted.get("item") or "")
    version = str(submitted.get("version") or "")
    if event not in REVIEW_EVENTS or not version.isdigit():
        return await review_page(request, review_id, reviews=reviews, principal=principal,
                                 status=HTTP_400_BAD_REQUEST)
    form = finding_form(item, values) if event == "record_finding" else forms.payload_form(
        Complete, values=values, form_id="complete")
    extra = {"item": int(item)} if item.isdigit() else {}
    payload = forms.convert(form, forms.read(form, values), REVIEW_EVENTS[event],
                            tag=lambda b: {"event": event, **extra, **b})
    failed = Sent(event, item, form)
    status = HTTP_400_BAD_REQUEST
    if payload is not None:
        if not access.may_act_on_review(principal.roles, event):
            form.place("$", access.review_event_refusal(event))
            status = HTTP_403_FORBIDDEN
        else:
            try:
                await reviews.apply(review_id, payload, actor=principal.username,
                                    area=principal.area, expected_version=int(version))
            except StaleVersion:
                failed.message = ("Someone else recorded something on this review while you"
                                  " were looking at it, so nothing was saved; check it and"
                                  " send it again.")
                form.place("$", failed.message)
                status = HTTP_412_PRECONDITION_FAILED
            except InvalidInput as exc:
                form.place(f"$.{exc.field}", str(exc).removeprefix(f"{exc.field}: "))
            except (EventNotAllowed, GuardRefused) as exc:
                failed.message = str(exc)
                form.place("$", str(exc))
                status = HTTP_409_CONFLICT
            else:
                return Redirect(f"/dashboard/reviews/{review_id}", status_code=303)
    return await review_page(request, review_id, reviews=reviews, principal=principal,
                             status=status, failed=failed)

