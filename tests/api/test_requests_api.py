"""The JSON API contract: statuses, headers and problem+json for every error case."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from disclosure.models import Event, Request
from disclosure.workflow import Workflow
from tests.api.conftest import People
from tests.conftest import FakeClock
from tests.factories import body, new_request, recipient

Client = httpx.AsyncClient
PROBLEM = "application/problem+json"


@pytest.fixture
def client(client: Client, people: People) -> Client:
    """The HTTP client signed in as a disclosure officer of the request's area."""
    client.headers.update(people.bearer("disclosure_officer"))
    return client


async def receive(client: Client, **overrides: Any) -> tuple[str, str]:
    response = await client.post("/api/requests", json=new_request(**overrides))
    assert response.status_code == 201, response.text
    return response.json()["reference"], response.headers["etag"]


async def send(client: Client, reference: str, etag: str, event: str, **fields: Any) -> Any:
    return await client.post(
        f"/api/requests/{reference}/events", json=body(event, **fields), headers={"If-Match": etag}
    )


async def count(workflow: Workflow, model: Any) -> int:
    async with workflow.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_receive_returns_location_and_etag(client: Client) -> None:
    response = await client.post("/api/requests", json=new_request())
    assert response.status_code == 201
    reference = response.json()["reference"]
    assert response.headers["location"] == f"/api/requests/{reference}"
    assert response.headers["etag"] == '"1"'
    read = await client.get(response.headers["location"])
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    assert read.json()["state"] == "received"


async def test_idempotency_key_returns_the_same_request(client: Client, workflow: Workflow) -> None:
    headers = {"Idempotency-Key": "form-7f3a"}
    first = await client.post("/api/requests", json=new_request(), headers=headers)
    again = await client.post("/api/requests", json=new_request(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["reference"] == again.json()["reference"]
    assert await count(workflow, Request) == 1
    other = await client.post("/api/requests", json=new_request(summary="Other"), headers=headers)
    assert other.status_code == 422 and other.headers["content-type"] == PROBLEM
    assert await count(workflow, Request) == 1


async def test_walk_to_closed_over_http(
    client: Client, people: People, clock: FakeClock
) -> None:
    clock.advance(days=10)
    reference, etag = await receive(client)
    parties = (await client.get(f"/api/requests/{reference}")).json()["parties"]
    at_risk = next(p["id"] for p in parties if p["role"] == "person_at_risk")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("complete_initial_checks", {}), ("record_meeting", {}), ("record_check", {}),
        ("complete_checks", {}),
    ]
    for event, fields in steps:
        response = await send(client, reference, etag, event, **fields)
        assert response.status_code == 200, response.text
        etag = response.headers["etag"]
    assert (await client.get(f"/api/requests/{reference}/actions")).json()["actions"][0] == {
        "event": "record_decision", "payload_schema": "RecordDecision"}
    # The officer who prepared the case may not decide to disclose.
    refused = await send(client, reference, etag, "record_decision",
                         recipients=[recipient(at_risk)])
    assert refused.status_code == 403
    decided = await client.post(
        f"/api/requests/{reference}/events",
        json=body("record_decision", recipients=[recipient(at_risk)]),
        headers={"If-Match": etag, **people.bearer("decision_maker")},
    )
    assert decided.status_code == 200, decided.text
    delivered = await send(client, reference, decided.headers["etag"], "record_delivery",
                           recipient_party_id=at_risk)
    assert delivered.status_code == 200, delivered.text
    # The mother who applied is owed a notice that the process has ended.
    assert delivered.json()["state"] == "awaiting_notice"
    noticed = await send(client, reference, delivered.headers["etag"], "record_notice")
    assert noticed.json()["outcome"] == "disclosed_to_person_at_risk"


async def test_event_not_allowed_is_409_naming_state_and_allowed(client: Client) -> None:
    reference, etag = await receive(client)
    response = await send(client, reference, etag, "record_delivery", recipient_party_id=1)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["state"] == "received"
    assert "complete_initial_checks" in problem["allowed"]
    assert "record_delivery is not allowed while the request is received" in problem["detail"]


async def test_stale_if_match_is_412_and_writes_nothing(client: Client, workflow: Workflow) -> None:
    reference, etag = await receive(client)
    assert (await send(client, reference, etag, "complete_initial_checks")).status_code == 200
    stale = await send(client, reference, etag, "withdraw")
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    assert await count(workflow, Event) == 2


async def test_missing_if_match_is_428(client: Client) -> None:
    reference, _ = await receive(client)
    response = await client.post(f"/api/requests/{reference}/events",
                                 json=body("complete_initial_checks"))
    assert response.status_code == 428 and response.headers["content-type"] == PROBLEM


async def test_invalid_payload_names_the_field(client: Client, workflow: Workflow) -> None:
    reference, etag = await receive(client)
    wrong_type = await send(client, reference, etag, "complete_initial_checks", immediate_risk="x")
    assert wrong_type.status_code == 400
    assert wrong_type.json()["errors"][0]["field"] == "$.immediate_risk"
    unknown_event = await send(client, reference, etag, "teleport")
    assert unknown_event.json()["errors"][0]["field"] == "$.event"
    missing = await client.post(f"/api/requests/{reference}/events",
                                json={"event": "withdraw"}, headers={"If-Match": etag})
    assert missing.json()["errors"][0] == {"field": "$.reason", "message": "required"}
    cross = await send(client, reference, etag, "complete_initial_checks", finding="duplicate")
    assert cross.json()["errors"][0]["field"] == "$.duplicate_of"
    extra = await send(client, reference, etag, "withdraw", surprise=1)
    assert extra.status_code == 400 and "surprise" in extra.text
    assert await count(workflow, Event) == 1


async def test_invalid_new_request_names_the_field(client: Client, workflow: Workflow) -> None:
    naive = await client.post("/api/requests", json=new_request(received_at="2026-11-02T09:00:00"))
    assert naive.status_code == 400 and naive.json()["errors"][0]["field"] == "$.received_at"
    no_subject = new_request()
    no_subject["parties"] = [p for p in no_subject["parties"] if p["role"] != "subject"]
    response = await client.post("/api/requests", json=no_subject)
    assert response.json()["errors"][0]["field"] == "$.parties"
    future = await client.post("/api/requests",
                               json=new_request(received_at="2030-01-01T00:00:00Z"))
    assert future.status_code == 400 and future.json()["errors"][0]["field"] == "$.received_at"
    assert await count(workflow, Request) == 0


async def test_unknown_reference_is_404_problem(client: Client) -> None:
    for path in ("", "/events", "/actions"):
        response = await client.get(f"/api/requests/DVDS-2026-999999{path}")
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM
    response = await client.post("/api/requests/DVDS-2026-999999/events",
                                  json=body("withdraw"), headers={"If-Match": '"1"'})
    assert response.status_code == 404


async def test_oversized_body_is_413(client: Client, workflow: Workflow) -> None:
    response = await client.post("/api/requests", json=new_request(summary="x" * 300_000))
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert await count(workflow, Request) == 0


async def test_malformed_json_is_400(client: Client) -> None:
    response = await client.post("/api/requests", content=b"{not json",
                                 headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM


async def test_list_filters_and_cursor_pagination(client: Client) -> None:
    made = [(await receive(client))[0] for _ in range(3)]
    csods, _ = await receive(client, scheme="csods")
    first = (await client.get("/api/requests", params={"scheme": "dvds", "limit": 2})).json()
    assert [i["reference"] for i in first["items"]] == [made[2], made[1]]
    second = (await client.get("/api/requests", params={"scheme": "dvds", "limit": 2,
                                                         "cursor": first["next_cursor"]})).json()
    assert [i["reference"] for i in second["items"]] == [made[0]]
    assert second["next_cursor"] is None
    only_csods = (await client.get("/api/requests", params={"scheme": "csods"})).json()
    assert [i["reference"] for i in only_csods["items"]] == [csods]
    received = (await client.get("/api/requests", params={"state": "received"})).json()
    assert len(received["items"]) == 4
    twice = await client.get("/api/requests?overdue=true&overdue=false")
    assert twice.status_code == 400 and "overdue: given more than once" in twice.text
    bad = await client.get("/api/requests", params={"state": "nowhere"})
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
    for forged in ("!!", base64.urlsafe_b64encode(b"99999999999999999999999").decode()):
        bad_cursor = await client.get("/api/requests", params={"cursor": forged})
        assert bad_cursor.status_code == 400, forged
    forged_queue = base64.urlsafe_b64encode(b'[false, "2026-01-01T00:00:00", 1]').decode()
    assert (await client.get("/api/requests", params={"queue": "overdue", "cursor": forged_queue})
            ).status_code == 400


async def test_overdue_filter(client: Client, people: People, clock: Any) -> None:
    reference, _ = await receive(client)
    assert (await client.get("/api/requests", params={"overdue": True})).json()["items"] == []
    clock.advance(days=40)
    # Forty days on, the morning's token has expired: sign in again.
    fresh = await people.users.issue(people.username("disclosure_officer"))
    client.headers["Authorization"] = f"Bearer {fresh.secret}"
    late = (await client.get("/api/requests", params={"overdue": True})).json()["items"]
    assert [i["reference"] for i in late] == [reference] and late[0]["overdue"]


async def test_timeline_and_audit_verify(client: Client, people: People) -> None:
    reference, etag = await receive(client)
    await send(client, reference, etag, "complete_initial_checks")
    events = (await client.get(f"/api/requests/{reference}/events")).json()
    assert [(e["seq"], e["event"], e["to_state"]) for e in events] == [
        (1, "receive", "received"), (2, "complete_initial_checks", "awaiting_meeting")]
    verdict = (await client.get("/api/audit/verify", headers=people.bearer("auditor"))).json()
    assert verdict["ok"] and verdict["events_checked"] == 2


async def test_openapi_schema_lists_event_payloads(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/requests/{reference}/events" in schema["paths"]
    assert {"RecordDecision", "RecordDelivery", "CompleteInitialChecks"} <= set(
        schema["components"]["schemas"])
