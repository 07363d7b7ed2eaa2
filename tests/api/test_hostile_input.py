"""Input a careless or hostile client sends: each answers 4xx naming the field, on both backends."""

from __future__ import annotations

import json

import httpx
import pytest

from tests import factories
from tests.api.conftest import People

OFFICER = "disclosure_officer"


def _fields(answer: httpx.Response) -> list[str]:
    return [e["field"] for e in answer.json().get("errors", [])]


async def test_a_nul_byte_in_a_string_is_refused_naming_the_field(
    client: httpx.AsyncClient, people: People
) -> None:
    body = factories.new_request(summary="before\x00after")
    answer = await client.post("/api/requests", json=body, headers=people.bearer(OFFICER))
    assert answer.status_code == 400, answer.text
    assert _fields(answer) == ["$.summary"]
    assert "NUL" in answer.json()["detail"]


async def test_a_nul_byte_in_a_nested_string_is_refused_naming_the_field(
    client: httpx.AsyncClient, people: People
) -> None:
    body = factories.new_request()
    body["parties"][0]["name"] = "Mark\x00Sample"
    answer = await client.post("/api/requests", json=body, headers=people.bearer(OFFICER))
    assert answer.status_code == 400, answer.text
    assert _fields(answer) == ["$.parties[0].name"]


@pytest.mark.parametrize("path", ["/api/tokens", "/api/session"])
async def test_a_nul_byte_in_a_username_before_sign_in_is_refused(
    client: httpx.AsyncClient, people: People, path: str
) -> None:
    answer = await client.post(path, json={"username": "admin\x00", "password": "x" * 12})
    assert answer.status_code == 400, answer.text
    assert _fields(answer) == ["$.username"]


async def test_invalid_utf8_in_the_body_is_refused(
    client: httpx.AsyncClient, people: People
) -> None:
    raw = json.dumps(factories.new_request()).encode().replace(b"Concern", b"Conc\xff\xfern")
    answer = await client.post(
        "/api/requests", content=raw,
        headers={**people.bearer(OFFICER), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert "UTF-8" in answer.json()["detail"]


async def test_json_nested_a_thousand_deep_is_refused(
    client: httpx.AsyncClient, people: People
) -> None:
    deep = "[" * 1000 + "]" * 1000
    raw = json.dumps(factories.new_request()).replace('"online"', deep)
    answer = await client.post(
        "/api/requests", content=raw,
        headers={**people.bearer(OFFICER), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["status"] == 400


async def test_a_time_that_overflows_in_utc_is_refused_naming_the_field(
    client: httpx.AsyncClient, people: People
) -> None:
    body = factories.new_request(received_at="9999-12-31T23:59:59-01:00")
    answer = await client.post("/api/requests", json=body, headers=people.bearer(OFFICER))
    assert answer.status_code == 400, answer.text
    assert _fields(answer) == ["$.received_at"]


async def _received(client: httpx.AsyncClient, people: People) -> str:
    created = await client.post("/api/requests", json=factories.new_request(),
                                headers=people.bearer(OFFICER))
    assert created.status_code == 201
    return str(created.json()["reference"])


@pytest.mark.parametrize("if_match", ['W/"1"', "1", '"1', '"one"', "*", '"1", "2"'])
async def test_a_weak_or_malformed_etag_never_matches(
    client: httpx.AsyncClient, people: People, if_match: str
) -> None:
    reference = await _received(client, people)
    answer = await client.post(
        f"/api/requests/{reference}/events", json=factories.body("withdraw"),
        headers={**people.bearer(OFFICER), "If-Match": if_match},
    )
    assert answer.status_code == 412, answer.text
    timeline = await client.get(f"/api/requests/{reference}/events",
                                headers=people.bearer(OFFICER))
    assert [e["event"] for e in timeline.json()] == ["receive"]


async def test_an_unknown_query_parameter_is_refused_naming_it(
    client: httpx.AsyncClient, people: People
) -> None:
    answer = await client.get("/api/requests?stat=closed", headers=people.bearer(OFFICER))
    assert answer.status_code == 400
    assert _fields(answer) == ["stat"]
    assert "takes" in answer.json()["detail"] and "state" in answer.json()["detail"]
    assert (await client.get("/api/requests?state=closed",
                             headers=people.bearer(OFFICER))).status_code == 200


@pytest.mark.parametrize(("path", "role", "field"), [
    ("/api/reports/annual?period=2025-26&format=xml", "smb_member", "$.format"),
    ("/api/requests?state=nope", OFFICER, "$.state"),
    ("/api/alerts?state=nope", "decision_maker", "$.state"),
])
async def test_a_bad_query_parameter_is_named_as_the_caller_sent_it(
    client: httpx.AsyncClient, people: People, path: str, role: str, field: str
) -> None:
    answer = await client.get(path, headers=people.bearer(role))
    assert answer.status_code == 400, answer.text
    assert _fields(answer) == [field]
    assert answer.json()["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
async def test_json_endpoints_refuse_other_content_types(
    client: httpx.AsyncClient, people: People, content_type: str | None
) -> None:
    raw = json.dumps(factories.new_request()).encode()
    headers = {**people.bearer(OFFICER)}
    if content_type:
        headers["Content-Type"] = content_type
    answer = await client.post("/api/requests", content=raw, headers=headers)
    assert answer.status_code == 415, answer.text
    assert "application/json" in answer.json()["detail"]


async def test_sign_in_only_takes_json(client: httpx.AsyncClient, people: People) -> None:
    form = await client.post("/api/tokens", data={"username": "x", "password": "y" * 12})
    assert form.status_code == 415
    session = await client.post(
        "/api/session", content=b'{"username": "x", "password": "yyyyyyyyyyyy"}',
        headers={"Content-Type": "text/plain"},
    )
    assert session.status_code == 415


async def test_a_body_is_decoded_as_strictly_as_its_schema_says(
    client: httpx.AsyncClient, people: People
) -> None:
    body = factories.new_request(immediate_risk=0)
    answer = await client.post("/api/requests", json=body, headers=people.bearer(OFFICER))
    assert answer.status_code == 400, answer.text
    assert _fields(answer) == ["$.immediate_risk"]
