"""Every role, every endpoint and every event, own area and other area, against the table.

The endpoints are read from the running app's routes, so an endpoint added without a row in
disclosure.access (or without a sample call here) fails this suite.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar

from disclosure import access
from disclosure.mapp.meetings import Meetings
from disclosure.mapp.nominals import Nominals
from disclosure.mapp.schemas import NewMeeting, NewNominal
from disclosure.schemas import NewRequest
from disclosure.workflow import Workflow
from statemachines.lifecycle import EVENTS as LIFECYCLE_EVENTS
from tests import factories
from tests.api import reviewing
from tests.api.conftest import OTHER, OWN, People

Call = tuple[str, str, dict[str, Any] | None]
Refs = dict[str, str]

# One representative call per endpoint, given the reference of a request in the target area.
_fresh = itertools.count()


def _event_for(role: str) -> dict[str, Any]:
    """An event this role may send, so that the endpoint itself is what is tested."""
    for key, roles in access.EVENTS.items():
        if role in roles:
            event, _, variant = key.partition(":")
            return _event_body(event, variant)
    return factories.body("record_check")


def _event_body(event: str, variant: str = "") -> dict[str, Any]:
    """A valid body: validation answers 400 before the permission check could be seen."""
    if not variant:
        return factories.body(event)
    if event == "record_decision":
        return factories.body(event, decision=variant)
    return factories.body(event, reason=variant)


def _login() -> dict[str, Any]:
    # A new unknown username each time: repeated failures for one name would lock it out.
    return {"username": f"nobody.{next(_fresh)}", "password": "wrong password"}


SAMPLES: dict[str, Callable[[str, str, str], Call]] = {
    "open_session": lambda ref, area, role: (
        "POST", "/api/session", _login()),
    "issue_token": lambda ref, area, role: (
        "POST", "/api/tokens", _login()),
    "close_session": lambda ref, area, role: ("DELETE", "/api/session", None),
    "whoami": lambda ref, area, role: ("GET", "/api/session", None),
    "end_other_sessions": lambda ref, area, role: ("DELETE", "/api/sessions/others", None),
    "receive": lambda ref, area, role: ("POST", "/api/requests", factories.new_request(area=area)),
    "list_requests": lambda ref, area, role: ("GET", f"/api/requests?area={area}", None),
    "read": lambda ref, area, role: ("GET", f"/api/requests/{ref}", None),
    "timeline": lambda ref, area, role: ("GET", f"/api/requests/{ref}/events", None),
    "clock": lambda ref, area, role: ("GET", f"/api/requests/{ref}/clock", None),
    "actions": lambda ref, area, role: ("GET", f"/api/requests/{ref}/actions", None),
    "send": lambda ref, area, role: (
        "POST", f"/api/requests/{ref}/events", _event_for(role)),
    "statistics": lambda ref, area, role: ("GET", "/api/stats", None),
    "decisions": lambda ref, area, role: ("GET", "/api/decisions", None),
    "views": lambda ref, area, role: ("GET", f"/api/requests/{ref}/views", None),
    "verify_trail": lambda ref, area, role: ("GET", "/api/audit/verify", None),
    "list_users": lambda ref, area, role: ("GET", "/api/users", None),
    "healthz": lambda ref, area, role: ("GET", "/healthz", None),
    "readyz": lambda ref, area, role: ("GET", "/readyz", None),
    "metrics": lambda ref, area, role: ("GET", "/metrics", None),
    "search": lambda ref, area, role: ("GET", "/api/search?q=Mark%20Sample", None),
    "list_searches": lambda ref, area, role: ("GET", "/api/searches", None),
    "list_alerts": lambda ref, area, role: ("GET", "/api/alerts", None),
    # The seeded alert of each area: the first of them is reviewed, the rest find it reviewed.
    "review_alert": lambda ref, area, role: (
        "POST", f"/api/alerts/{ALERT_OF[area]}/events",
        {"event": "record_no_action", "reason": "Reviewed: no pattern"}),
    # The web pages: their forms are posted form-encoded (see _call).
    "get_handler": lambda ref, area, role: ("GET", "/assets/govuk-frontend.min.css", None),
    "page_home": lambda ref, area, role: ("GET", "/", None),
    "page_sign_in": lambda ref, area, role: ("GET", "/sign-in", None),
    "page_sign_in_submit": lambda ref, area, role: ("POST", "/sign-in", _login()),
    "page_sign_out": lambda ref, area, role: ("POST", "/sign-out", {}),
    "page_queue": lambda ref, area, role: ("GET", "/queue", None),
    "page_search": lambda ref, area, role: ("GET", "/search?q=Mark%20Sample", None),
    "page_case": lambda ref, area, role: ("GET", f"/requests/{ref}", None),
    "page_case_action": lambda ref, area, role: (
        "POST", f"/requests/{ref}/events", {"event": "extend_deadline", "version": "1"}),
    "page_new_request": lambda ref, area, role: ("GET", "/requests/new", None),
    "page_new_request_submit": lambda ref, area, role: ("POST", "/requests/new", {}),
    "page_apply": lambda ref, area, role: ("GET", "/apply", None),
    "page_apply_submit": lambda ref, area, role: ("POST", "/apply", {"your_name": "A Person"}),
    "page_apply_received": lambda ref, area, role: ("GET", "/apply/received", None),
    "page_audit": lambda ref, area, role: ("GET", "/audit", None),
    "page_views": lambda ref, area, role: ("GET", f"/audit/requests/{ref}/views", None),
    "page_searches": lambda ref, area, role: ("GET", "/audit/searches", None),
    "page_admin": lambda ref, area, role: ("GET", "/admin", None),
    "page_admin_add_user": lambda ref, area, role: ("POST", "/admin/users", {}),
    "page_admin_disable_user": lambda ref, area, role: (
        "POST", "/admin/users/nobody/disable", {}),
    "page_admin_add_division": lambda ref, area, role: (
        "POST", "/admin/divisions", {"division": "Not A Code"}),
    "page_admin_add_area": lambda ref, area, role: (
        "POST", "/admin/areas", {"area_code": "Not A Code"}),
    "page_lifecycle": lambda ref, area, role: ("GET", "/lifecycle", None),
    "page_mapp": lambda ref, area, role: ("GET", "/mapp", None),
    "page_new_nominal": lambda ref, area, role: ("GET", "/mapp/nominals/new", None),
    "page_new_nominal_submit": lambda ref, area, role: ("POST", "/mapp/nominals/new", {}),
    "page_nominal": lambda ref, area, role: ("GET", f"/mapp/nominals/{MAPP_OF[area]}", None),
    "page_nominal_event": lambda ref, area, role: (
        "POST", f"/mapp/nominals/{MAPP_OF[area]}/events",
        {"event": "change_rosh", "version": "1"}),
    "page_new_meeting": lambda ref, area, role: (
        "GET", f"/mapp/meetings/new?nominal_id={MAPP_OF[area]}", None),
    "page_new_meeting_submit": lambda ref, area, role: (
        "POST", "/mapp/meetings/new", {"nominal_id": str(MAPP_OF[area])}),
    "page_meeting": lambda ref, area, role: ("GET", f"/mapp/meetings/{MAPP_OF[area]}", None),
    "page_meeting_event": lambda ref, area, role: (
        "POST", f"/mapp/meetings/{MAPP_OF[area]}/events", {"event": "finalise", "version": "1"}),
    "page_dashboard": lambda ref, area, role: ("GET", "/dashboard?period=2025-26", None),
    "page_draw_review": lambda ref, area, role: ("POST", "/dashboard/reviews", {}),
    "page_review": lambda ref, area, role: ("GET", f"/dashboard/reviews/{REVIEW_OF[area]}", None),
    "page_review_event": lambda ref, area, role: (
        "POST", f"/dashboard/reviews/{REVIEW_OF[area]}/events", {"event": "complete"}),
    "annual_report": lambda ref, area, role: (
        "GET", f"/api/reports/annual?period=2026-27&area={area}", None),
    "draw_review": lambda ref, area, role: ("POST", "/api/reviews", {"period": "2026-27",
                                                                     "seed": 7}),
    "list_reviews": lambda ref, area, role: ("GET", "/api/reviews", None),
    "read_review": lambda ref, area, role: ("GET", f"/api/reviews/{REVIEW_OF[area]}", None),
    "review_event": lambda ref, area, role: (
        "POST", f"/api/reviews/{REVIEW_OF[area]}/events", _review_event_for(role)),
    "released_decision": lambda ref, area, role: (
        "GET", f"/api/reviews/{REVIEW_OF[area]}/decisions/{ref}", None),
    "create_nominal": lambda ref, area, role: (
        "POST", "/api/nominals",
        factories.new_nominal(area=area, reference=f"VISOR-{next(_fresh)}")),
    "read_nominal": lambda ref, area, role: ("GET", f"/api/nominals/{MAPP_OF[area]}", None),
    "change_nominal": lambda ref, area, role: (
        "POST", f"/api/nominals/{MAPP_OF[area]}/events",
        {"event": "change_rosh", "effective_at": "2026-11-01T09:00:00Z", "rosh": "high"}),
    "create_meeting": lambda ref, area, role: (
        "POST", "/api/meetings", factories.new_meeting(MAPP_OF[area])),
    "list_meetings": lambda ref, area, role: ("GET", "/api/meetings", None),
    "read_meeting": lambda ref, area, role: ("GET", f"/api/meetings/{MAPP_OF[area]}", None),
    "send_meeting_event": lambda ref, area, role: (
        "POST", f"/api/meetings/{MAPP_OF[area]}/events",
        {"event": "add_action_points", "action_points": factories.new_meeting(1)["action_points"]}),
}
# Public forms other than signing in: a form with errors answers 400 with the form again.
OPEN_FORMS = frozenset({"page_apply_submit"})
# Endpoints that end the credential they are called with.
SIGN_OUTS = frozenset({"close_session", "page_sign_out"})
# Three applications naming one man, by three women, raise one alert in each area.
ALERT_OF = {OWN: 1, OTHER: 2}
# The nominal seeded in each area, and its one meeting, have the same id.
MAPP_OF = {OWN: 1, OTHER: 2}
# The decided request of each area, sampled into a review and released.
REVIEW_OF = {OWN: 1, OTHER: 2}


def _review_event_for(role: str) -> dict[str, Any]:
    """A review event this role may send, so that the endpoint itself is what is tested."""
    for event, roles in access.REVIEW_EVENTS.items():
        if role in roles:
            if event == "complete":
                return {"event": event}
            if event == "release_record":
                return {"event": event, "item": 1}
            return {"event": event, "item": 1, "finding": "defensible", "notes": "Sound"}
    return {"event": "complete"}


def registered_endpoints(app: Litestar) -> dict[str, tuple[str, str]]:
    """Handler name → (method, path) for every route the app serves outside the API docs."""
    docs = app.openapi_config.path if app.openapi_config else "/schema"
    found: dict[str, tuple[str, str]] = {}
    for route in app.routes:
        if route.path == docs or route.path.startswith(docs + "/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            methods = set(handler.http_methods) - {"OPTIONS", "HEAD"}
            if not methods:
                continue
            name = handler.handler_name
            assert name not in found, f"two endpoints are both named {name}"
            found[name] = (methods.pop(), route.path)
    return found


def test_every_endpoint_has_a_rule_and_a_sample(app: Litestar) -> None:
    served = registered_endpoints(app)
    missing = set(served) - set(access.ENDPOINTS)
    assert not missing, f"endpoints with no access rule: {sorted(missing)}"
    assert set(access.ENDPOINTS) - set(served) == set(), "rules for endpoints that do not exist"
    assert set(SAMPLES) == set(served), "the matrix needs one sample call per endpoint"


def test_every_event_has_a_rule() -> None:
    ruled = {key.split(":")[0] for key in access.EVENTS}
    assert ruled == set(LIFECYCLE_EVENTS)
    assert {"record_decision:disclose", "record_decision:no_disclosure"} <= set(access.EVENTS)


async def _seed_requests(workflow: Workflow) -> Refs:
    for area in (OWN, OTHER):
        for woman in ("Kerry Holt", "Sophie Hart", "Emma Walker"):
            body = factories.new_request(area=area)
            body["parties"][1]["name"] = woman
            await workflow.create(msgspec.convert(body, NewRequest), actor="seed")
    refs: Refs = {}
    for area in (OWN, OTHER):
        review, refs[area] = await reviewing.released(workflow, area)
        assert review == REVIEW_OF[area]
    for area in (OWN, OTHER):
        nominal = await Nominals(workflow).register(
            msgspec.convert(factories.new_nominal(area=area), NewNominal), actor="seed")
        await Meetings(workflow).create(
            msgspec.convert(factories.new_meeting(nominal.id), NewMeeting), actor="seed")
    return refs


def expected(handler: str, role: str, area: str) -> str:
    rule = access.ENDPOINTS[handler]
    if rule.public:
        return "open"
    if role not in rule.roles:
        return "deny"
    if area == OTHER and (rule.scoped or handler in ("receive", "create_nominal")):
        return "hidden" if rule.scoped else "deny"
    return "allow"


def outcome(status: int) -> str:
    if status >= 500:
        return "server error"
    return {401: "unauthenticated", 403: "deny", 404: "hidden"}.get(status, "allow")


async def _call(
    client: httpx.AsyncClient, workflow: Workflow, call: Call, headers: dict[str, str]
) -> Any:
    method, path, body = call
    if method == "POST" and path.startswith(("/api/alerts/", "/api/reviews/")):
        headers = {**headers, "If-Match": '"1"'}
    elif method == "POST" and path.startswith(("/api/meetings/", "/api/nominals/")):
        record = int(path.split("/")[3])
        version = (await Meetings(workflow).get(record)).version if "meetings" in path else (
            await Nominals(workflow).get(record)).version
        headers = {**headers, "If-Match": f'"{version}"'}
    elif method == "POST" and path.startswith("/api/requests/") and path.endswith("/events"):
        reference = path.split("/")[3]
        headers = {**headers, "If-Match": f'"{await _version(workflow, reference)}"'}
    if not path.startswith("/api/") and method == "POST":
        return await client.request(method, path, data=body, headers=headers)
    return await client.request(method, path, json=body, headers=headers)


async def _version(workflow: Workflow, reference: str) -> int:
    return (await workflow.get(reference)).version


async def test_role_endpoint_area_matrix(
    client: httpx.AsyncClient, workflow: Workflow, people: People
) -> None:
    refs = await _seed_requests(workflow)
    wrong: list[str] = []
    for handler, sample in SAMPLES.items():
        rule = access.ENDPOINTS[handler]
        # A public endpoint takes no credential, so one role stands for all.
        roles = access.ROLES[:1] if rule.public else access.ROLES
        for role in roles:
            for area in (OWN, OTHER):
                call = sample(refs[area], area, role)
                headers = people.bearer(role)
                if handler in SIGN_OUTS:
                    fresh = await people.users.issue(people.username(role))
                    headers = {"Authorization": f"Bearer {fresh.secret}"}
                response = await _call(client, workflow, call, headers)
                want = expected(handler, role, area)
                got = outcome(response.status_code)
                if want == "open" and call[0] == "GET":
                    # The probes, metrics and public pages answer anyone, and say nothing of
                    # any request (the front door sends them on to their queue).
                    ok = response.status_code in (200, 303) and refs[OWN] not in response.text
                elif handler in OPEN_FORMS:
                    ok = response.status_code == 400 and refs[OWN] not in response.text
                elif want == "open":
                    ok = response.status_code == 401 and "wrong username" in response.text
                else:
                    ok = got == want
                if ok and want == "allow" and area == OTHER:
                    # Area-wide answers never include another area's requests.
                    ok = refs[OTHER] not in response.text
                if not ok:
                    wrong.append(f"{role} {call[0]} {call[1]} ({area}): expected {want},"
                                 f" got {response.status_code}")
    assert not wrong, "\n".join(wrong)


async def test_role_event_area_matrix(
    client: httpx.AsyncClient, workflow: Workflow, people: People
) -> None:
    refs = await _seed_requests(workflow)
    wrong: list[str] = []
    for key, allowed in access.EVENTS.items():
        event, _, variant = key.partition(":")
        body = _event_body(event, variant)
        for role in access.ROLES:
            for area in (OWN, OTHER):
                call: Call = ("POST", f"/api/requests/{refs[area]}/events", body)
                response = await _call(client, workflow, call, people.bearer(role))
                if role not in access.ENDPOINTS["send"].roles or role not in allowed:
                    want = "deny"
                else:
                    want = "hidden" if area == OTHER else "allow"
                got = outcome(response.status_code)
                if got != want:
                    wrong.append(f"{role} {key} ({area}): expected {want},"
                                 f" got {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("credential", [None, "Bearer dsc_not-a-real-token", "Basic abc",
                                        "Bearer "])
async def test_no_endpoint_answers_without_a_valid_credential(
    client: httpx.AsyncClient, workflow: Workflow, credential: str | None
) -> None:
    refs = await _seed_requests(workflow)
    headers = {"Authorization": credential} if credential else {}
    for handler, sample in SAMPLES.items():
        if access.ENDPOINTS[handler].public:
            continue
        method, path, body = sample(refs[OWN], OWN, "disclosure_officer")
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (handler, response.status_code)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        # A page answers with the sign-in form, which sends the person back to the address
        # they asked for: that echo of their own request is all it holds.
        text = response.text.replace(f'value="{html.escape(path)}"', "")
        assert refs[OWN] not in text and "Sample" not in text
