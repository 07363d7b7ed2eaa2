"""The web pages over HTTP: sign-in and CSRF, forms that land their errors on fields, stale
versions, the read trail, the public form's abuse controls, and no personal data in logs."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import msgspec
from sqlalchemy import func, select

from disclosure.models import Request, View
from disclosure.schemas import PAYLOADS
from disclosure.workflow import Workflow
from tests import factories
from tests.api.conftest import OWN, PASSWORD, People


async def signed_in(client: httpx.AsyncClient, people: People, role: str,
                    landing: str = "/queue") -> str:
    """Sign in through the page; the CSRF token the pages' forms carry."""
    answer = await client.post("/sign-in", data={
        "username": people.username(role), "password": PASSWORD, "next": landing})
    assert answer.status_code == 303 and answer.headers["location"] == landing
    page = await client.get(landing)
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found[1]


async def test_a_page_post_needs_the_sessions_csrf_token(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    csrf = await signed_in(client, people, "disclosure_officer")
    view = await workflow.create(factories.new(), actor="seed")
    form = {"event": "extend_deadline", "version": "1", "days": "7",
            "category": "complex_case", "reason": "Waiting for probation"}
    refused = await client.post(f"/requests/{view.reference}/events", data=form)
    assert refused.status_code == 403
    assert (await workflow.get(view.reference)).version == 1
    sent = await client.post(f"/requests/{view.reference}/events",
                             data={**form, "csrf_token": csrf})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/requests/{view.reference}?done=extend_deadline"
    assert (await workflow.get(view.reference)).version == 2


async def test_signing_in_goes_back_to_this_service_only(
    client: httpx.AsyncClient, people: People,
) -> None:
    answer = await client.post("/sign-in", data={
        "username": people.username("disclosure_officer"), "password": PASSWORD,
        "next": "//evil.example/steal"})
    assert answer.headers["location"] == "/queue"
    assert {"__Host-disclosure_session", "__Host-disclosure_csrf"} <= set(answer.cookies)
    wrong = await client.post("/sign-in", data={"username": "nobody.here", "password": "x" * 12})
    assert wrong.status_code == 401 and "wrong username or password" in wrong.text


async def test_a_page_asked_for_without_signing_in_shows_the_sign_in_form(
    client: httpx.AsyncClient,
) -> None:
    front = await client.get("/")
    assert front.status_code == 303 and front.headers["location"] == "/queue"
    answer = await client.get("/queue?state=checks")
    assert answer.status_code == 401
    assert 'name="next" value="/queue?state=checks"' in answer.text
    assert answer.headers["content-type"].startswith("text/html")


async def test_an_error_lands_on_its_field_and_nothing_changes(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    csrf = await signed_in(client, people, "disclosure_officer")
    view = await workflow.create(factories.new(), actor="seed")
    answer = await client.post(f"/requests/{view.reference}/events", data={
        "csrf_token": csrf, "event": "extend_deadline", "version": "1", "days": "400",
        "category": "complex_case", "reason": "Waiting"})
    assert answer.status_code == 400
    summary = answer.text[answer.text.index("govuk-error-summary"):]
    assert 'href="#f-extend-deadline-days"' in summary and "365 or fewer" in summary
    assert 'id="f-extend-deadline-days-error"' in answer.text
    # What was entered is kept.
    assert 'value="400"' in answer.text
    assert (await workflow.get(view.reference)).version == 1


async def test_a_stale_form_is_refused_and_shows_the_request_as_it_is_now(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    csrf = await signed_in(client, people, "disclosure_officer")
    view = await workflow.create(factories.new(), actor="seed")
    await workflow.apply(view.reference, factories.payload("extend_deadline"), actor="seed",
                         expected_version=1)
    answer = await client.post(f"/requests/{view.reference}/events", data={
        "csrf_token": csrf, "event": "extend_deadline", "version": "1", "days": "3",
        "category": "complex_case", "reason": "My own reason"})
    assert answer.status_code == 412
    assert "Someone else changed this request" in answer.text
    assert "My own reason" in answer.text
    assert 'name="version" value="2"' in answer.text
    assert (await workflow.get(view.reference)).version == 2


async def _views(workflow: Workflow, reference: str) -> list[str]:
    async with workflow.db.read() as session:
        rid = await session.scalar(select(Request.id).where(Request.reference == reference))
        return list(await session.scalars(
            select(View.endpoint).where(View.request_id == rid).order_by(View.seq)))


async def test_page_views_of_a_case_go_on_the_read_trail(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    csrf = await signed_in(client, people, "disclosure_officer")
    view = await workflow.create(factories.new(), actor="seed")
    assert (await client.get(f"/requests/{view.reference}")).status_code == 200
    # A form sent back with its errors shows the case again: that is a view too.
    answer = await client.post(f"/requests/{view.reference}/events", data={
        "csrf_token": csrf, "event": "withdraw", "version": "1"})
    assert answer.status_code == 400 and "Jane Sample" in answer.text
    assert await _views(workflow, view.reference) == ["page_case", "page_case_action"]


async def test_another_areas_case_is_not_found(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    await signed_in(client, people, "disclosure_officer")
    other = await workflow.create(factories.new(area="durham"), actor="seed")
    answer = await client.get(f"/requests/{other.reference}")
    assert answer.status_code == 404 and "Mark Sample" not in answer.text


def _application(**overrides: str) -> dict[str, str]:
    return {"area": OWN, "scheme": "dvds", "asking_for_yourself": "true",
            "your_name": "Olwen Marsh", "contact_method": "email",
            "contact_details": "olwen@example.org", "safe_times": "mornings",
            "never_use": "never phone", "subject_name": "Rex Harland",
            "concern": "He frightens me", **overrides}


async def _count(workflow: Workflow) -> int:
    async with workflow.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Request)) or 0)


async def test_the_public_form_receives_an_online_request_in_the_chosen_area(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    answer = await client.post("/apply", data=_application())
    assert answer.status_code == 303 and answer.headers["location"] == "/apply/received"
    async with workflow.db.read() as session:
        request = await session.scalar(select(Request))
    assert request is not None
    assert (request.state, request.channel, request.area, request.route) == (
        "received", "online", OWN, "right_to_ask")
    view = await workflow.get(request.reference)
    applicant = next(p for p in view.parties if p.role == "applicant")
    assert applicant.relationship_code == "self"
    assert applicant.safe_contact == {"method": "email", "details": "olwen@example.org",
                                      "times": "mornings", "notes": "never phone"}
    received = await client.get("/apply/received")
    assert request.reference not in received.text and "Olwen" not in received.text


async def test_the_public_form_refuses_an_area_that_is_not_configured(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    answer = await client.post("/apply", data=_application(area="atlantis"))
    assert answer.status_code == 400 and 'href="#f-area"' in answer.text
    assert await _count(workflow) == 0


async def test_the_honeypot_is_answered_as_a_person_would_be_and_nothing_is_received(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    answer = await client.post("/apply", data=_application(website="https://spam.example"))
    assert answer.status_code == 303 and answer.headers["location"] == "/apply/received"
    assert await _count(workflow) == 0


async def test_the_public_form_is_rate_limited_per_address(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    for _ in range(5):
        assert (await client.post("/apply", data=_application())).status_code == 303
    refused = await client.post("/apply", data=_application())
    assert refused.status_code == 429 and "Too many applications" in refused.text
    assert await _count(workflow) == 5


async def test_the_public_form_refuses_a_body_too_big_for_an_application(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    answer = await client.post("/apply", data=_application(concern="x" * 40_000))
    assert answer.status_code == 413
    assert await _count(workflow) == 0


async def test_pages_write_no_personal_data_to_the_log(
    client: httpx.AsyncClient, people: People, workflow: Workflow, log_lines: io.StringIO,
) -> None:
    await client.post("/apply", data=_application(your_name="Persephone Quill"))
    await client.post("/apply", data=_application(your_name="Persephone Quill", area="x"))
    csrf = await signed_in(client, people, "disclosure_officer")
    view = await workflow.create(factories.new(), actor="seed")
    await client.get(f"/requests/{view.reference}")
    await client.get("/search?q=Persephone%20Quill")
    await client.post(f"/requests/{view.reference}/events", data={
        "csrf_token": csrf, "event": "withdraw", "version": "1", "reason": "Persephone asked"})
    # The service's own lines (the test client logs the addresses it calls, queries and all).
    written = "\n".join(line for line in log_lines.getvalue().splitlines()
                        if '"logger": "httpx"' not in line)
    assert written and "Persephone" not in written and "Quill" not in written
    assert "Mark Sample" not in written and "Jane Sample" not in written


async def test_the_action_forms_are_those_the_api_lists(
    client: httpx.AsyncClient, people: People, workflow: Workflow,
) -> None:
    await signed_in(client, people, "decision_maker")
    view = await workflow.create(factories.new(), actor="seed")
    for event in ("complete_initial_checks", "record_meeting", "record_check",
                  "complete_checks"):
        payload: Any = msgspec.convert(factories.body(event), PAYLOADS[event])
        await workflow.apply(view.reference, payload, actor="seed",
                             expected_version=(await workflow.get(view.reference)).version)
    listed = await client.get(f"/api/requests/{view.reference}/actions")
    page = await client.get(f"/requests/{view.reference}")
    shown = re.findall(r'id="action-(\w+)"', page.text)
    assert shown == [a["event"] for a in listed.json()["actions"]]
    assert "record_decision" in shown and "complete_checks" not in shown


async def test_the_lifecycle_page_draws_every_state_of_the_machines(
    client: httpx.AsyncClient, people: People,
) -> None:
    await signed_in(client, people, "smb_member", landing="/lifecycle")
    page = await client.get("/lifecycle")
    assert page.status_code == 200 and page.text.count("<svg") == 2
    for words in ("Received", "Awaiting meeting", "Awaiting decision", "Awaiting notice",
                  "Closed", "record decision"):
        assert words in page.text


async def test_an_administrator_adds_an_account_that_can_sign_in(
    client: httpx.AsyncClient, people: People,
) -> None:
    csrf = await signed_in(client, people, "admin", landing="/admin")
    weak = await client.post("/admin/users", data={
        "csrf_token": csrf, "username": "pc.new", "password": "short", "roles": "auditor"})
    assert weak.status_code == 400 and 'href="#password"' in weak.text
    # No role ticked: the form sends no `roles` at all.
    roleless = await client.post("/admin/users", data={
        "csrf_token": csrf, "username": "pc.new", "password": "a brand new passphrase"})
    assert roleless.status_code == 400 and 'href="#roles"' in roleless.text
    added = await client.post("/admin/users", data={
        "csrf_token": csrf, "username": "pc.new", "display_name": "PC New",
        "password": "a brand new passphrase", "roles": ["disclosure_officer"]})
    assert added.status_code == 303
    accounts = [u.username for u in await people.users.list(area=OWN)]
    assert "pc.new" in accounts


async def test_an_administrator_adds_an_area_with_its_divisions(
    client: httpx.AsyncClient, people: People,
) -> None:
    csrf = await signed_in(client, people, "admin", landing="/admin")
    before = await people.users.areas()
    wrong = await client.post("/admin/areas", data={
        "csrf_token": csrf, "area_code": "West Yorkshire", "area_name": " ",
        "area_divisions": "leeds, Brad-ford"})
    assert wrong.status_code == 400
    # Every error in the summary, each linking to its field, and the field saying it too.
    for field in ("area-code", "area-name", "area-divisions"):
        assert f'href="#{field}"' in wrong.text and f'id="{field}-error"' in wrong.text
    assert "Brad-ford" in wrong.text and 'value="West Yorkshire"' in wrong.text
    assert await people.users.areas() == before
    taken = await client.post("/admin/areas", data={
        "csrf_token": csrf, "area_code": OWN, "area_name": "Again"})
    assert taken.status_code == 400 and f"already an area with the code {OWN}" in taken.text
    added = await client.post("/admin/areas", data={
        "csrf_token": csrf, "area_code": "west_yorkshire", "area_name": "West Yorkshire Police",
        "area_divisions": "leeds, bradford leeds"})
    assert added.status_code == 303 and added.headers["location"] == "/admin"
    assert sorted((await people.users.areas())["west_yorkshire"]) == ["bradford", "leeds"]
    assert (await people.users.area_names())["west_yorkshire"] == "West Yorkshire Police"
    page = await client.get("/admin")
    assert "West Yorkshire Police" in page.text


async def test_an_area_form_that_is_too_long_or_holds_a_nul_is_refused_not_cut_short(
    client: httpx.AsyncClient, people: People,
) -> None:
    csrf = await signed_in(client, people, "admin", landing="/admin")
    before = await people.users.areas()
    names = await people.users.area_names()
    long_code = await client.post("/admin/areas", data={
        "csrf_token": csrf, "area_code": "b" * 100, "area_name": "Long"})
    assert long_code.status_code == 400 and 'href="#area-code"' in long_code.text
    nul = await client.post("/admin/areas", data={
        "csrf_token": csrf, "area_code": "nul_area", "area_name": "Nul\x00Area"})
    assert nul.status_code == 400 and 'href="#area-name"' in nul.text
    many = await client.post("/admin/areas", data={
        "csrf_token": csrf, "area_code": "many_divisions", "area_name": "Many",
        "area_divisions": " ".join(f"division_{i}" for i in range(600))})
    assert many.status_code == 400 and 'href="#area-divisions"' in many.text
    assert await people.users.areas() == before
    assert await people.users.area_names() == names


async def test_an_account_form_that_is_too_long_or_holds_a_nul_is_refused_not_cut_short(
    client: httpx.AsyncClient, people: People,
) -> None:
    csrf = await signed_in(client, people, "admin", landing="/admin")
    before = await people.users.list(area=OWN)
    base = {"csrf_token": csrf, "password": "a brand new passphrase",
            "roles": ["disclosure_officer"]}
    long_name = await client.post("/admin/users", data={**base, "username": "u" * 100})
    assert long_name.status_code == 400 and 'href="#username"' in long_name.text
    for display_name in ("d" * 201, "PC\x00New"):
        refused = await client.post("/admin/users", data={
            **base, "username": "pc.other", "display_name": display_name})
        assert refused.status_code == 400 and 'href="#display_name"' in refused.text
    assert await people.users.list(area=OWN) == before


async def test_only_an_administrator_adds_an_area(
    client: httpx.AsyncClient, people: People,
) -> None:
    csrf = await signed_in(client, people, "disclosure_officer")
    refused = await client.post("/admin/areas", data={
        "csrf_token": csrf, "area_code": "kent_two", "area_name": "Kent Two"})
    assert refused.status_code == 403
    assert "kent_two" not in await people.users.areas()


async def test_each_role_is_linked_only_to_pages_it_may_open(
    client: httpx.AsyncClient, people: People,
) -> None:
    # The service name goes to each person's start page: the board's has no queue.
    await signed_in(client, people, "smb_member", landing="/dashboard")
    dashboard = await client.get("/dashboard")
    assert 'href="/dashboard" class="govuk-generic-header__homepage-link"' in dashboard.text
    assert 'href="/queue"' not in dashboard.text
    # The front door sends each person to their start page, and a stranger to sign in.
    assert (await client.get("/")).headers["location"] == "/dashboard"
    # An administrator verifies the trail but reads neither who viewed a case nor the search
    # log, so the audit page offers neither.
    await signed_in(client, people, "admin", landing="/audit")
    audit_page = await client.get("/audit")
    assert "Verify the trail now" in audit_page.text
    assert "/audit/searches" not in audit_page.text and 'name="reference"' not in audit_page.text
    refused = await client.get("/audit/searches")
    assert refused.status_code == 403 and 'href="/dashboard">Go to your start page' in (
        refused.text)


async def test_a_coordinator_opens_the_form_for_a_new_nominal(
    client: httpx.AsyncClient, people: People,
) -> None:
    await signed_in(client, people, "mapp_coordinator")
    page = await client.get("/mapp/nominals/new")
    assert page.status_code == 200 and "Register a nominal" in page.text
