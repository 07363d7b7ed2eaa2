"""MAPP panels: the area's nominals, their meetings (recorded, attended, the disclosure
consideration, the disclosures agreed and the action points) and the reviews overdue. Every
form is drawn from the schema the API takes, as the case page's are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_409_CONFLICT,
    HTTP_412_PRECONDITION_FAILED,
)

from api.pages import forms
from api.pages.layout import render
from api.pages.words import event_title
from disclosure import access
from disclosure.errors import (
    EventNotAllowed,
    GuardRefused,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from disclosure.mapp.meetings import Filters, Meetings
from disclosure.mapp.nominals import Nominals
from disclosure.mapp.schemas import (
    AddActionPoints,
    Amend,
    ChangeCategory,
    ChangeLevel,
    ChangeLocation,
    ChangeRosh,
    Finalise,
    NewMeeting,
    NewNominal,
    RecordConsideration,
)
from disclosure.reads import ReadLog
from disclosure.users import Principal
from statemachines.meeting import allowed_events

RecordId = Annotated[int, PathParameter(ge=1, le=2**62)]
# The event just saved, for the page to say so.
Done = Annotated[str | None, QueryParameter(max_length=40)]
NOMINAL_EVENTS: Final[dict[str, type[Any]]] = {
    "change_level": ChangeLevel, "change_category": ChangeCategory,
    "change_location": ChangeLocation, "change_rosh": ChangeRosh,
}
MEETING_EVENTS: Final[dict[str, type[Any]]] = {
    "record_consideration": RecordConsideration, "add_action_points": AddActionPoints,
    "finalise": Finalise, "amend": Amend,
}
STALE: Final = ("Someone else changed this while you were looking at it, so nothing was saved."
                " Below is how it is now, with what you entered kept: check it and send it"
                " again if it still applies.")
CATEGORIES: Final = [("1", "1: registered sexual offender"), ("2", "2: violent offender"),
                     ("3", "3: other dangerous offender"),
                     ("4", "4: terrorism or terrorism-risk offender")]


@dataclass
class Sent:
    """A form sent back: which, with what was entered and why it was not saved."""

    event: str
    form: forms.Form
    message: str | None = None


def _choices() -> dict[str, list[tuple[str, str]]]:
    return {"category": CATEGORIES, "level": [("1", "Level 1"), ("2", "Level 2"),
                                              ("3", "Level 3")]}


def event_forms(events: dict[str, type[Any]], allowed: list[str], failed: Sent | None
                ) -> list[dict[str, Any]]:
    shown = []
    for event in allowed:
        form = failed.form if failed is not None and failed.event == event else (
            forms.payload_form(events[event], form_id=event, values={}, choices=_choices()))
        shown.append({"event": event, "title": event_title(event), "form": form,
                      "intro": (events[event].__doc__ or "").strip(),
                      "open": failed is not None and failed.event == event})
    return shown


async def _sent(request: Request[Any, Any, Any], events: dict[str, type[Any]],
                ) -> tuple[str, int | None, forms.Values, str | None]:
    submitted = await request.form()
    values = {key: submitted.getall(key) for key in submitted}
    event = str(submitted.get("event") or "")
    version = str(submitted.get("version") or "")
    more = str(submitted.get("_more") or "") or None
    return event, int(version) if version.isdigit() else None, values, more


# Overview ----------------------------------------------------------------------------------


@get("/mapp")
async def page_mapp(
    request: Request[Any, Any, Any], meetings: NamedDependency[Meetings],
    nominals: NamedDependency[Nominals], principal: NamedDependency[Principal],
) -> Response[str]:
    """The area's nominals, the reviews overdue and the latest meetings."""
    overdue = await meetings.search(Filters(overdue_review=True), limit=100, cursor=None,
                                    area=principal.area)
    latest = await meetings.search(Filters(), limit=20, cursor=None, area=principal.area)
    return render(request, "mapp.html", overdue=overdue.items, latest=latest.items,
                  nominals=await nominals.list(area=principal.area),
                  may_record=access.may_call(principal.roles, "page_new_nominal"))


# Nominals ----------------------------------------------------------------------------------


def _nominal_form(values: forms.Values, more: str | None = None) -> forms.Form:
    return forms.payload_form(NewNominal, values=values, more=more, choices=_choices(),
                              skip=("area",), labels={
                                  "reference": "ViSOR or case-management number",
                                  "name": "Name", "rosh": "Risk of serious harm",
                                  "managed_from": "Managed at this level from",
                              })


@get("/mapp/nominals/new")
async def page_new_nominal(request: Request[Any, Any, Any]) -> Response[str]:
    return render(request, "mapp_new.html", title="Register a nominal",
                  action="/mapp/nominals/new", form=_nominal_form({}), error_count=0)


@post("/mapp/nominals/new", status_code=303)
async def page_new_nominal_submit(
    request: Request[Any, Any, Any], nominals: NamedDependency[Nominals],
    principal: NamedDependency[Principal],
) -> Response[Any]:
    _, _, values, more = await _sent(request, {})
    form = _nominal_form(values, more)
    body = forms.read(form, values)
    new = None if more else forms.convert(form, body, NewNominal,
                                          tag=lambda b: {**b, "area": principal.area})
    if new is not None:
        try:
            view = await nominals.register(new, actor=principal.username)
        except InvalidInput as exc:
            form.place(f"$.{exc.field}", str(exc).removeprefix(f"{exc.field}: "))
        else:
            return Redirect(f"/mapp/nominals/{view.id}", status_code=303)
    return render(request, "mapp_new.html", status=200 if more else HTTP_400_BAD_REQUEST,
                  title="Register a nominal", action="/mapp/nominals/new", form=form,
                  error_count=len(form.errors))


async def nominal_page(
    request: Request[Any, Any, Any], nominal_id: int, *, nominals: Nominals,
    principal: Principal, status: int = 200, failed: Sent | None = None,
    done: str | None = None,
) -> Response[str]:
    view = await nominals.get(nominal_id, area=principal.area)
    allowed = list(NOMINAL_EVENTS) if access.may_call(
        principal.roles, "page_nominal_event") else []
    return render(request, "nominal.html", status=status, nominal=view,
                  done=event_title(done) if done in NOMINAL_EVENTS else None,
                  actions=event_forms(NOMINAL_EVENTS, allowed, failed), failed=failed,
                  may_record=access.may_call(principal.roles, "page_new_meeting"),
                  error_count=len(failed.form.errors) if failed else 0)


@get("/mapp/nominals/{nominal_id:int}")
async def page_nominal(
    request: Request[Any, Any, Any], nominal_id: RecordId, nominals: NamedDependency[Nominals],
    principal: NamedDependency[Principal], done: Done = None,
) -> Response[str]:
    """A nominal: how they stand and have stood, their meetings and the disclosures agreed.
    The view goes on the nominal's read trail."""
    return await nominal_page(request, nominal_id, nominals=nominals, principal=principal,
                              done=done)


@post("/mapp/nominals/{nominal_id:int}/events", status_code=303)
async def page_nominal_event(
    request: Request[Any, Any, Any], nominal_id: RecordId, nominals: NamedDependency[Nominals],
    principal: NamedDependency[Principal], reads: NamedDependency[ReadLog],
) -> Response[Any]:
    event, version, values, more = await _sent(request, NOMINAL_EVENTS)
    if event not in NOMINAL_EVENTS or version is None:
        return await _nominal_again(request, nominal_id, nominals, principal, reads, None,
                                    HTTP_400_BAD_REQUEST)
    form = forms.payload_form(NOMINAL_EVENTS[event], form_id=event, values=values,
                              choices=_choices(), more=more)
    body = forms.read(form, values)
    payload = None if more else forms.convert(form, body, NOMINAL_EVENTS[event],
                                              tag=lambda b: {"event": event, **b})
    status = 200 if more else HTTP_400_BAD_REQUEST
    message = None
    if payload is not None:
        try:
            await nominals.change(nominal_id, payload, actor=principal.username,
                                  expected_version=version, area=principal.area)
        except StaleVersion:
            form.place("$", STALE)
            status, message = HTTP_412_PRECONDITION_FAILED, STALE
        except InvalidInput as exc:
            form.place(f"$.{exc.field}", str(exc).removeprefix(f"{exc.field}: "))
        else:
            return Redirect(f"/mapp/nominals/{nominal_id}?done={event}", status_code=303)
    return await _nominal_again(request, nominal_id, nominals, principal, reads,
                                Sent(event, form, message), status)


async def _nominal_again(
    request: Request[Any, Any, Any], nominal_id: int, nominals: Nominals,
    principal: Principal, reads: ReadLog, failed: Sent | None, status: int,
) -> Response[str]:
    page = await nominal_page(request, nominal_id, nominals=nominals, principal=principal,
                              status=status, failed=failed)
    # Shown again with the nominal: a read, logged here as the middleware logs only 2xx.
    if status >= 300:
        await reads.record_nominal(nominal_id, viewer=principal.username,
                                   endpoint="page_nominal_event")
    return page


# Meetings ----------------------------------------------------------------------------------


def _meeting_form(values: forms.Values, more: str | None = None) -> forms.Form:
    return forms.payload_form(NewMeeting, values=values, more=more, choices=_choices(),
                              skip=("nominal_id", "level"), labels={
                                  "kind": "Initial meeting or review",
                                  "confidentiality_statement_read":
                                      "Was the confidentiality statement read?",
                                  "next_review_by": "Next review by (if earlier than policy)",
                                  "action_points": "Action point", "attendees": "Attendee",
                              })


@get("/mapp/meetings/new")
async def page_new_meeting(
    request: Request[Any, Any, Any], nominals: NamedDependency[Nominals],
    principal: NamedDependency[Principal],
    nominal_id: Annotated[int, QueryParameter(ge=1, le=2**62)],
) -> Response[str]:
    """A meeting about one of the area's nominals, recorded as a draft."""
    nominal = await nominals.get(nominal_id, area=principal.area)
    return render(request, "mapp_new.html", title=f"Record a meeting about {nominal.reference}",
                  action="/mapp/meetings/new", form=_meeting_form({}), error_count=0,
                  hidden={"nominal_id": str(nominal_id)})


@post("/mapp/meetings/new", status_code=303)
async def page_new_meeting_submit(
    request: Request[Any, Any, Any], meetings: NamedDependency[Meetings],
    nominals: NamedDependency[Nominals], principal: NamedDependency[Principal],
) -> Response[Any]:
    _, _, values, more = await _sent(request, {})
    nominal = (values.get("nominal_id") or [""])[0]
    if not nominal.isdigit() or not 1 <= int(nominal) <= 2**62:
        raise NotFound(nominal[:20], "nominal")
    # Another area's nominal is not found, before anything about the form is said.
    await nominals.get(int(nominal), area=principal.area)
    form = _meeting_form(values, more)
    body = forms.read(form, values)
    new = None if more else forms.convert(
        form, body, NewMeeting, tag=lambda b: {**b, "nominal_id": int(nominal)})
    if new is not None:
        try:
            view = await meetings.create(new, actor=principal.username, area=principal.area)
        except InvalidInput as exc:
            form.place(f"$.{exc.field}", str(exc).removeprefix(f"{exc.field}: "))
        else:
            return Redirect(f"/mapp/meetings/{view.id}", status_code=303)
    return render(request, "mapp_new.html", status=200 if more else HTTP_400_BAD_REQUEST,
                  title="Record a meeting", action="/mapp/meetings/new", form=form,
                  error_count=len(form.errors), hidden={"nominal_id": nominal})


async def meeting_page(
    request: Request[Any, Any, Any], meeting_id: int, *, meetings: Meetings,
    principal: Principal, status: int = 200, failed: Sent | None = None,
    done: str | None = None,
) -> Response[str]:
    view = await meetings.get(meeting_id, area=principal.area)
    allowed = list(allowed_events(view.state)) if access.may_call(
        principal.roles, "page_meeting_event") else []
    return render(request, "meeting.html", status=status, meeting=view,
                  done=event_title(done) if done in MEETING_EVENTS else None,
                  actions=event_forms(MEETING_EVENTS, allowed, failed), failed=failed,
                  error_count=len(failed.form.errors) if failed else 0)


@get("/mapp/meetings/{meeting_id:int}")
async def page_meeting(
    request: Request[Any, Any, Any], meeting_id: RecordId, meetings: NamedDependency[Meetings],
    principal: NamedDependency[Principal], done: Done = None,
) -> Response[str]:
    """A meeting: who sat, its consideration, the disclosures it agreed (as requests) and its
    action points. The view goes on its nominal's read trail."""
    return await meeting_page(request, meeting_id, meetings=meetings, principal=principal,
                              done=done)


@post("/mapp/meetings/{meeting_id:int}/events", status_code=303)
async def page_meeting_event(
    request: Request[Any, Any, Any], meeting_id: RecordId, meetings: NamedDependency[Meetings],
    principal: NamedDependency[Principal], reads: NamedDependency[ReadLog],
) -> Response[Any]:
    event, version, values, more = await _sent(request, MEETING_EVENTS)
    failed = None
    status = HTTP_400_BAD_REQUEST
    if event in MEETING_EVENTS and version is not None:
        form = forms.payload_form(MEETING_EVENTS[event], form_id=event, values=values,
                                  choices=_choices(), more=more)
        body = forms.read(form, values)
        payload = None if more else forms.convert(form, body, MEETING_EVENTS[event],
                                                  tag=lambda b: {"event": event, **b})
        failed = Sent(event, form)
        status = 200 if more else HTTP_400_BAD_REQUEST
        if payload is not None:
            try:
                await meetings.apply(meeting_id, payload, actor=principal.username,
                                     expected_version=version, area=principal.area)
            except StaleVersion:
                form.place("$", STALE)
                failed.message, status = STALE, HTTP_412_PRECONDITION_FAILED
            except InvalidInput as exc:
                form.place(f"$.{exc.field}", str(exc).removeprefix(f"{exc.field}: "))
            except (EventNotAllowed, GuardRefused) as exc:
                form.place("$", str(exc))
                failed.message, status = str(exc), HTTP_409_CONFLICT
            else:
                return Redirect(f"/mapp/meetings/{meeting_id}?done={event}", status_code=303)
    page = await meeting_page(request, meeting_id, meetings=meetings, principal=principal,
                              status=status, failed=failed)
    nominal = await meetings.nominal_of(meeting_id)
    if status >= 300 and nominal is not None:
        await reads.record_nominal(nominal, viewer=principal.username,
                                   endpoint="page_meeting_event")
    return page
