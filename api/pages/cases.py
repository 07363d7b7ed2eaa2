"""The case page: a request with its parties, clock, stage records and timeline, and one form
for each event the lifecycle allows now and the person's roles permit (what `/actions` lists,
each form drawn from that event's payload schema)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

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

from api.metrics import TRANSITIONS
from api.pages import forms
from api.pages.layout import render
from api.pages.words import event_title
from disclosure import access
from disclosure.errors import EventNotAllowed, GuardRefused, InvalidInput, StaleVersion
from disclosure.reads import ReadLog
from disclosure.schemas import PAYLOADS, PartyView
from disclosure.stage_records import StageRecords
from disclosure.users import Principal
from disclosure.workflow import Workflow

Reference = Annotated[str, PathParameter(pattern=r"^[A-Z]{4,5}-\d{4}-\d{6}$", max_length=32)]
# Who did it: prefilled with the signed-in person's name.
BY_NAME = frozenset({"held_by", "given_by", "delivered_by", "discloser", "told_by"})


@dataclass
class Failed:
    """A form sent back with what was entered and why it was not saved."""

    event: str
    form: forms.Form
    message: str | None = None


def choices(parties: list[PartyView], records: StageRecords) -> dict[str, list[tuple[str, str]]]:
    """Options the schema cannot list: this request's parties and open partner requests."""
    people = [(str(p.id), f"{p.name or 'Unnamed'} ({p.role.replace('_', ' ')})")
              for p in parties]
    return {
        "party_id": people,
        "recipient_party_id": people,
        "partner_request_id": [
            (str(r.id), f"{r.agency.replace('_', ' ')}, asked {r.asked_at:%d %b %Y}")
            for r in records.partner_requests if r.responded_at is None
        ],
    }


def action_form(
    event: str, option: dict[str, list[tuple[str, str]]], values: forms.Values,
    more: str | None = None,
) -> forms.Form:
    """The form for one event, drawn from its payload's schema as `/actions` gives it."""
    skip = ["event"]
    when = PAYLOADS[event].when
    if when is not None:
        # The event's own time field says when it happened.
        skip.append("occurred_at")
    form = forms.payload_form(PAYLOADS[event], values=values, form_id=event, choices=option,
                              more=more, skip=skip)
    for f in form.fields:
        if f.name == when:
            f.required = False
            f.hint = "Leave the date and time blank if it happened just now."
    return form


def _defaults(form: forms.Form, principal: Principal) -> None:
    """The person's own name for who did it."""
    found: dict[str, Any] = {}
    for f in form.all():
        if f.path.rsplit(".", 1)[-1] in BY_NAME and f.kind == "text":
            found[f.path] = principal.display_name
    for f in form.all():
        if f.path in found:
            forms.fill(forms.Form(fields=[f]), _nest(f.path, found[f.path]))


def _nest(path: str, value: Any) -> dict[str, Any]:
    """A payload holding one value at a path, for `fill`."""
    steps = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    here: Any = value
    for step in reversed(steps):
        here = [here] * (int(step[1:-1]) + 1) if step.startswith("[") else {step: here}
    return dict(here)


async def case_page(
    request: Request[Any, Any, Any], reference: str, *, workflow: Workflow,
    principal: Principal, status: int = 200, failed: Failed | None = None,
    done: str | None = None,
) -> Response[str]:
    view = await workflow.get(reference, area=principal.area)
    clock = await workflow.clock(reference, area=principal.area)
    timeline = await workflow.events(reference, area=principal.area)
    records = await workflow.stage_records(reference, area=principal.area)
    allowed = await workflow.actions(reference, roles=principal.roles, area=principal.area)
    option = choices(view.parties, records)
    action_forms = []
    for action in allowed.actions:
        if failed is not None and failed.event == action.event:
            form = failed.form
        else:
            form = action_form(action.event, option, {})
            _defaults(form, principal)
        action_forms.append({
            "event": action.event, "title": event_title(action.event), "form": form,
            "intro": str(action.payload_schema.get("description") or ""),
            "open": failed is not None and failed.event == action.event,
        })
    if failed is not None and failed.event not in {a.event for a in allowed.actions}:
        # What was entered is kept, though the request has moved on and no longer takes it.
        action_forms.insert(0, {
            "event": failed.event, "title": event_title(failed.event), "form": failed.form,
            "intro": f"{event_title(failed.event)} cannot be done now the request is"
                     f" {view.state.replace('_', ' ')}; what you entered is kept here.",
            "open": True,
        })
    errors = failed.form.errors if failed is not None else []
    return render(
        request, "case.html", status=status, view=view, clock=clock, timeline=timeline,
        records=records, actions=action_forms, version=allowed.version, failed=failed,
        done=event_title(done) if done in PAYLOADS else None, error_count=len(errors),
        parties={p.id: p for p in view.parties},
    )


@get("/requests/{reference:str}")
async def page_case(
    request: Request[Any, Any, Any], reference: Reference,
    workflow: NamedDependency[Workflow], principal: NamedDependency[Principal],
    done: Annotated[str | None, QueryParameter(max_length=40)] = None,
) -> Response[str]:
    """One request; the view goes on the read trail, as the API's read does."""
    return await case_page(request, reference, workflow=workflow, principal=principal,
                           done=done)


@post("/requests/{reference:str}/events", status_code=303)
async def page_case_action(
    request: Request[Any, Any, Any], reference: Reference,
    workflow: NamedDependency[Workflow], principal: NamedDependency[Principal],
    reads: NamedDependency[ReadLog],
) -> Response[Any]:
    """Send one event from its form. A form with errors, a refusal or a stale version shows
    the case again, as it is now, with what was entered kept and the reason at the top."""
    submitted = await request.form()
    values = {key: submitted.getall(key) for key in submitted}
    event = str(submitted.get("event") or "")
    version_text = str(submitted.get("version") or "")
    if event not in PAYLOADS or not version_text.isdigit():
        return await _again(request, reference, workflow, principal, reads,
                            status=HTTP_400_BAD_REQUEST, failed=None)
    view = await workflow.get(reference, area=principal.area)
    records = await workflow.stage_records(reference, area=principal.area)
    more = str(submitted.get("_more") or "") or None
    form = action_form(event, choices(view.parties, records), values, more)
    if more is not None:
        forms.read(form, values)
        form.errors.clear()
        return await _again(request, reference, workflow, principal, reads, status=200,
                            failed=Failed(event=event, form=form))
    body = forms.read(form, values)
    when = PAYLOADS[event].when
    if when is not None and when not in body and not form.errors:
        # Left blank: it happened as it is recorded.
        body[when] = workflow.now()
    payload = forms.convert(form, body, PAYLOADS[event], tag=lambda b: {"event": event, **b})
    if payload is None:
        return await _again(request, reference, workflow, principal, reads,
                            status=HTTP_400_BAD_REQUEST, failed=Failed(event=event, form=form))
    if not access.may_send(principal.roles, event, payload):
        form.place("$", "your roles do not allow this")
        return await _again(request, reference, workflow, principal, reads,
                            status=HTTP_403_FORBIDDEN, failed=Failed(event=event, form=form))
    try:
        result = await workflow.apply(
            reference, payload, actor=principal.username, expected_version=int(version_text),
            area=principal.area, roles=principal.roles,
        )
    except StaleVersion:
        message = ("Someone else changed this request while you were looking at it, so"
                   " nothing was saved. Below is the request as it is now, with what you"
                   " entered kept: check it and send it again if it still applies.")
        form.place("$", message)
        return await _again(request, reference, workflow, principal, reads,
                            status=HTTP_412_PRECONDITION_FAILED,
                            failed=Failed(event=event, form=form, message=message))
    except InvalidInput as exc:
        form.place(f"$.{exc.field}", str(exc).removeprefix(f"{exc.field}: "))
        return await _again(request, reference, workflow, principal, reads,
                            status=HTTP_400_BAD_REQUEST, failed=Failed(event=event, form=form))
    except (EventNotAllowed, GuardRefused) as exc:
        form.place("$", str(exc))
        return await _again(request, reference, workflow, principal, reads,
                            status=HTTP_409_CONFLICT,
                            failed=Failed(event=event, form=form, message=str(exc)))
    TRANSITIONS.labels(event=result.event).inc()
    return Redirect(f"/requests/{reference}?done={event}", status_code=303)


async def _again(
    request: Request[Any, Any, Any], reference: str, workflow: Workflow, principal: Principal,
    reads: ReadLog, *, status: int, failed: Failed | None,
) -> Response[str]:
    """The case page shown again: a read of the request like any other, so it is logged here
    (the read trail logs only answers that succeed)."""
    page = await case_page(request, reference, workflow=workflow, principal=principal,
                           status=status, failed=failed)
    if status >= 300:
        await reads.record(reference, viewer=principal.username, endpoint="page_case_action")
    return page
