"""The public right-to-ask application form, as forces offer on their websites: no sign-in,
the quick-exit button, safe-contact questions, and abuse controls that need no other service
(a rate limit per address and overall, a honeypot field, size limits). It receives a request
in `received` with channel `online`, in the force area the applicant chose, for an officer to
pick up; the confirmation says nothing of this or any other request."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_429_TOO_MANY_REQUESTS
from msgspec import Meta

from api.accounts import client_address
from api.pages import forms
from api.pages.layout import render
from disclosure.online import OnlineApplications
from disclosure.schemas import Name, NewRequest, Plain, Short, Text
from disclosure.settings import Settings
from disclosure.users import Users
from disclosure.workflow import Workflow

# Who the trail records as having received an online application.
ONLINE_ACTOR: Final = "online-form"
# The honeypot: a field people never see; a form filler that fills it in is not a person.
HONEYPOT: Final = "website"
# An application is a few kilobytes of text; nothing bigger is read.
MAX_BODY: Final = 32_768
Date = Annotated[str, Meta(pattern=forms.DATE)]


class OnlineApplication(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the public form asks; it becomes a right-to-ask request (`NewRequest`)."""

    area: Annotated[str, Meta(description="The police force for where you live.")]
    scheme: Literal["dvds", "csods"]
    asking_for_yourself: Annotated[bool, Meta(
        description="Say no if you are asking for someone else, like a friend or your child.",
    )]
    your_name: Name
    your_date_of_birth: Date | None = None
    contact_method: Literal["phone", "email", "letter"]
    contact_details: Annotated[Short, Meta(
        min_length=1, description="The phone number, email address or postal address to use."
    )]
    safe_times: Annotated[Short, Meta(description="For example, weekdays after 6pm.")] = ""
    never_use: Annotated[Short, Meta(
        description="For example, do not leave voicemail, do not write to my home address."
    )] = ""
    person_at_risk_name: Annotated[Name | None, Meta(
        description="Leave blank if it is you. For Sarah's Law, the child's name."
    )] = None
    relationship: Annotated[Short, Meta(
        description="For example, I am her mother; I am his partner."
    )] = ""
    subject_name: Annotated[Name, Meta(description="The person you are worried about.")]
    subject_date_of_birth: Date | None = None
    subject_address: Annotated[Plain, Meta(max_length=500)] | None = None
    concern: Text

    def __post_init__(self) -> None:
        if not self.asking_for_yourself and not self.person_at_risk_name:
            raise ValueError("person_at_risk_name: who is at risk, if it is not you")
        if self.scheme == "csods" and not self.person_at_risk_name:
            raise ValueError("person_at_risk_name: the name of the child you are worried about")


LABELS: Final = {
    "area": "Which police force area do you live in?",
    "scheme": "What are you asking about?",
    "asking_for_yourself": "Are you asking about your own safety?",
    "your_name": "Your full name",
    "your_date_of_birth": "Your date of birth",
    "contact_method": "How can we contact you safely?",
    "contact_details": "Contact details",
    "safe_times": "When is it safe to contact you?",
    "never_use": "Is there anything we must never do when contacting you?",
    "person_at_risk_name": "Who is at risk?",
    "relationship": "How do you know them?",
    "subject_name": "Name of the person you are worried about",
    "subject_date_of_birth": "Their date of birth, if you know it",
    "subject_address": "Their address, if you know it",
    "concern": "Tell us why you are worried",
}
SCHEMES: Final = [
    ("dvds", "A partner or ex-partner's history of violence or abuse (Clare's Law)"),
    ("csods", "Someone who has contact with a child (Sarah's Law)"),
]


def online_form(areas: dict[str, str]) -> forms.Form:
    option = {"area": sorted(areas.items(), key=lambda a: a[1]), "scheme": SCHEMES}
    return forms.payload_form(OnlineApplication, values={}, choices=option, labels=LABELS)


def request_of(answers: OnlineApplication, received_at: Any) -> NewRequest:
    at_risk_role = "child" if answers.scheme == "csods" else "person_at_risk"
    applicant: dict[str, Any] = {
        "role": "applicant", "name": answers.your_name,
        "date_of_birth": answers.your_date_of_birth,
        "relationship": answers.relationship or None,
        "safe_contact": {"method": answers.contact_method, "details": answers.contact_details,
                         "times": answers.safe_times, "notes": answers.never_use},
    }
    if answers.asking_for_yourself and answers.scheme == "dvds":
        applicant["relationship_code"] = "self"
    at_risk = {"role": at_risk_role,
               "name": answers.person_at_risk_name or answers.your_name}
    subject = {"role": "subject", "name": answers.subject_name,
               "date_of_birth": answers.subject_date_of_birth,
               "address": answers.subject_address}
    return msgspec.convert({
        "scheme": answers.scheme, "route": "right_to_ask", "area": answers.area,
        "received_at": received_at, "channel": "online", "summary": answers.concern,
        "parties": [applicant, at_risk, subject],
    }, NewRequest)


async def _areas(users: Users) -> dict[str, str]:
    return await users.area_names()


def _page(request: Request[Any, Any, Any], form: forms.Form, settings: Settings, *,
          status: int = 200, message: str | None = None) -> Response[str]:
    return render(request, "apply.html", status=status, form=form, honeypot=HONEYPOT,
                  exit_url=settings.quick_exit_url, error_count=len(form.errors),
                  message=message)


@get("/apply")
async def page_apply(
    request: Request[Any, Any, Any], users: NamedDependency[Users],
    settings: NamedDependency[Settings],
) -> Response[str]:
    return _page(request, online_form(await _areas(users)), settings)


@post("/apply", status_code=303, request_max_body_size=MAX_BODY)
async def page_apply_submit(
    request: Request[Any, Any, Any], users: NamedDependency[Users],
    workflow: NamedDependency[Workflow], online: NamedDependency[OnlineApplications],
    settings: NamedDependency[Settings],
) -> Response[Any]:
    submitted = await request.form()
    values = {key: submitted.getall(key) for key in submitted}
    if str(submitted.get(HONEYPOT) or ""):
        # Answered as a person's application would be, so the filler learns nothing.
        return Redirect("/apply/received", status_code=303)
    areas = await _areas(users)
    form = online_form(areas)
    body = forms.read(form, values)
    answers = forms.convert(form, body, OnlineApplication)
    if answers is not None and answers.area not in areas:
        form.place("$.area", "choose one of the force areas listed")
        answers = None
    if answers is None:
        return _page(request, form, settings, status=HTTP_400_BAD_REQUEST)
    if not await online.admit(client_address(request, settings.trusted_proxies)):
        return _page(request, form, settings, status=HTTP_429_TOO_MANY_REQUESTS, message=(
            "Too many applications have been sent from here in the last hour. Try again"
            " later, or call 101 (999 in an emergency)."
        ))
    await workflow.create(request_of(answers, workflow.now()), actor=ONLINE_ACTOR)
    return Redirect("/apply/received", status_code=303)


@get("/apply/received")
async def page_apply_received(
    request: Request[Any, Any, Any], settings: NamedDependency[Settings],
) -> Response[str]:
    """The same words for every application: nothing about this or any other request."""
    return render(request, "apply_received.html", exit_url=settings.quick_exit_url)
