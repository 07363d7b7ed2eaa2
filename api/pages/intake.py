"""A new request entered by an officer: a right-to-ask application or a right-to-know referral,
drawn from the schema the API receives (`NewRequest`), with possible duplicates shown before it
is saved."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST

from api.pages import forms
from api.pages.layout import render
from disclosure.errors import IdempotencyMismatch, InvalidInput
from disclosure.schemas import NewRequest, Route
from disclosure.search.duplicates import PossibleDuplicate
from disclosure.search.service import Finder
from disclosure.users import Principal, Users
from disclosure.workflow import Workflow

# The parties a new request starts with, by route; more can be added on the form.
STARTING_PARTIES: Final[dict[str, tuple[str, ...]]] = {
    "right_to_ask": ("applicant", "person_at_risk", "subject"),
    "right_to_know": ("referrer", "person_at_risk", "subject"),
}
SCHEMES: Final[dict[str, list[tuple[str, str]]]] = {
    "right_to_ask": [("dvds", "DVDS (Clare's Law)"), ("csods", "CSODS (Sarah's Law)")],
    "right_to_know": [("dvds", "DVDS (Clare's Law)"), ("csods", "CSODS (Sarah's Law)"),
                      ("mappa", "MAPPA")],
}
TITLES: Final = {"right_to_ask": "New right-to-ask application",
                 "right_to_know": "New right-to-know referral"}


def intake_form(route: str, divisions: list[str], values: forms.Values,
                more: str | None = None) -> forms.Form:
    option = {"scheme": SCHEMES[route], "division": [(d, d.replace("_", " ").capitalize())
                                                     for d in divisions]}
    if not any(key.startswith("parties[") for key in values):
        values = {**values, **{f"parties[{i}].role": [role]
                               for i, role in enumerate(STARTING_PARTIES[route])}}
    return forms.payload_form(NewRequest, values=values, choices=option, more=more,
                              skip=("area", "route"), labels={
                                  "received_at": "When was it received?",
                                  "summary": "What is the concern?", "parties": "Party",
                              })


def _page(request: Request[Any, Any, Any], route: str, form: forms.Form, *, status: int = 200,
          duplicates: list[PossibleDuplicate] | None = None, key: str) -> Response[str]:
    return render(request, "new_request.html", status=status, route=route,
                  title=TITLES[route], form=form, duplicates=duplicates, key=key,
                  error_count=len(form.errors))


@get("/requests/new")
async def page_new_request(
    request: Request[Any, Any, Any], users: NamedDependency[Users],
    workflow: NamedDependency[Workflow], principal: NamedDependency[Principal],
    route: Annotated[Route, QueryParameter()] = "right_to_ask",
) -> Response[str]:
    divisions = (await users.areas()).get(principal.area, [])
    form = intake_form(route, divisions, {})
    forms.fill(form, {"received_at": workflow.now(), "channel": "telephone"
                      if route == "right_to_ask" else "partner_agency",
                      "parties": [{"role": r} for r in STARTING_PARTIES[route]]})
    return _page(request, route, form, key=secrets.token_urlsafe(16))


@post("/requests/new", status_code=303)
async def page_new_request_submit(
    request: Request[Any, Any, Any], users: NamedDependency[Users],
    workflow: NamedDependency[Workflow], finder: NamedDependency[Finder],
    principal: NamedDependency[Principal],
) -> Response[Any]:
    """Check for possible duplicates first (shown, and logged as a search), then save."""
    submitted = await request.form()
    values = {key: submitted.getall(key) for key in submitted}
    route = str(submitted.get("route") or "")
    if route not in STARTING_PARTIES:
        route = "right_to_ask"
    key = str(submitted.get("key") or "")[:64] or secrets.token_urlsafe(16)
    more = str(submitted.get("_more") or "") or None
    divisions = (await users.areas()).get(principal.area, [])
    form = intake_form(route, divisions, values, more)
    body = forms.read(form, values)
    # A party the form offered but no one filled in (its role chosen for them) is no party.
    body["parties"] = [p for p in body.get("parties", []) if set(p) - {"role", "kind"}]
    if more is not None:
        form.errors.clear()
        return _page(request, route, form, key=key)
    new = forms.convert(form, body, NewRequest,
                        tag=lambda b: {**b, "route": route, "area": principal.area})
    if new is None:
        return _page(request, route, form, status=HTTP_400_BAD_REQUEST, key=key)
    if submitted.get("_save") is None:
        found = await finder.duplicates(new.parties, area=principal.area,
                                        searcher=principal.username)
        return _page(request, route, form, duplicates=found, key=key)
    try:
        view = await workflow.create(new, actor=principal.username, idempotency_key=key)
    except (InvalidInput, IdempotencyMismatch) as exc:
        field = exc.field if isinstance(exc, InvalidInput) else "summary"
        form.place(f"$.{field}", str(exc).removeprefix(f"{field}: "))
        return _page(request, route, form, status=HTTP_400_BAD_REQUEST,
                     key=secrets.token_urlsafe(16))
    return Redirect(f"/requests/{view.reference}", status_code=303)
