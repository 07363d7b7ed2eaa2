"""Sign-in, sessions with CSRF, bearer tokens, lockout, rate limits and security headers."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from api.app import create_app
from disclosure.models import Credential, User
from disclosure.workflow import Workflow
from tests import factories
from tests.api.conftest import BASE_URL, OWN, PASSWORD, People, client_for, settings_for
from tests.conftest import FakeClock

OFFICER = "disclosure_officer.derbyshire"


def login(username: str = OFFICER, password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "password": password}


async def test_session_cookie_is_secure_and_unsafe_calls_need_the_csrf_token(
    client: httpx.AsyncClient, people: People
) -> None:
    opened = await client.post("/api/session", json=login())
    assert opened.status_code == 201
    cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    csrf = opened.json()["csrf_token"]
    assert (await client.get("/api/session")).json()["username"] == OFFICER

    body = factories.new_request(area=OWN)
    refused = await client.post("/api/requests", json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    wrong = await client.post("/api/requests", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    accepted = await client.post("/api/requests", json=body, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201

    closed = await client.delete("/api/session", headers={"X-CSRF-Token": csrf})
    assert closed.status_code == 204
    assert (await client.get("/api/session")).status_code == 401


async def test_bearer_tokens_need_no_csrf_and_are_stored_hashed(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    issued = await client.post("/api/tokens", json=login())
    assert issued.status_code == 201
    token = issued.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    created = await client.post("/api/requests", json=factories.new_request(), headers=headers)
    assert created.status_code == 201
    async with workflow.db.read() as session:
        hashes = list(await session.scalars(select(Credential.secret_hash)))
        passwords = list(await session.scalars(select(User.password_hash)))
    assert token not in hashes and all(len(h) == 64 for h in hashes)
    assert all(p.startswith("$argon2id$") for p in passwords)
    assert not any(PASSWORD in p for p in passwords)

    assert (await client.delete("/api/session", headers=headers)).status_code == 204
    assert (await client.get("/api/requests", headers=headers)).status_code == 401


async def test_tokens_expire(
    client: httpx.AsyncClient, people: People, clock: FakeClock
) -> None:
    token = (await client.post("/api/tokens", json=login())).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/session", headers=headers)).status_code == 200
    clock.advance(days=31)
    assert (await client.get("/api/session", headers=headers)).status_code == 401


async def test_wrong_passwords_lock_the_account_for_a_while(
    client: httpx.AsyncClient, people: People, clock: FakeClock
) -> None:
    for _ in range(5):
        answer = await client.post("/api/tokens", json=login(password="not the password"))
        assert answer.status_code == 401
        assert answer.json()["detail"] == "wrong username or password"
    locked = await client.post("/api/tokens", json=login())
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "token" not in locked.text
    clock.advance(minutes=16)
    assert (await client.post("/api/tokens", json=login())).status_code == 201


async def test_unknown_usernames_get_the_same_answer_as_wrong_passwords(
    client: httpx.AsyncClient, people: People
) -> None:
    unknown = await client.post("/api/tokens", json=login("no.such.user", "whatever it is"))
    wrong = await client.post("/api/tokens", json=login(password="whatever it is"))
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


async def test_one_source_is_rate_limited(workflow: Workflow, people: People) -> None:
    app = create_app(settings_for(workflow, login_source_limit=3), workflow)
    async with client_for(app) as client:
        for n in range(3):
            answer = await client.post("/api/tokens", json=login(f"guess.{n}", "x" * 12))
            assert answer.status_code == 401
        limited = await client.post("/api/tokens", json=login())
        assert limited.status_code == 429


async def test_disabled_users_cannot_sign_in(client: httpx.AsyncClient, people: People) -> None:
    await people.users.disable(OFFICER)
    assert (await client.post("/api/tokens", json=login())).status_code == 401
    assert (await client.get("/api/session", headers=people.bearer("disclosure_officer"))
            ).status_code == 401


async def test_security_headers_on_answers_and_errors(
    client: httpx.AsyncClient, people: People
) -> None:
    for answer in (
        await client.get("/api/session", headers=people.bearer("disclosure_officer")),
        await client.get("/api/requests"),
    ):
        headers: Any = answer.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Strict-Transport-Security"].startswith("max-age=")


async def test_no_hsts_over_plain_http_unless_configured(workflow: Workflow) -> None:
    plain = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings_for(workflow), workflow)),
        base_url=BASE_URL.replace("https", "http"),
    )
    async with plain:
        assert "Strict-Transport-Security" not in (await plain.get("/api/requests")).headers
    behind_proxy = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings_for(workflow, hsts=True), workflow)),
        base_url=BASE_URL.replace("https", "http"),
    )
    async with behind_proxy:
        assert "Strict-Transport-Security" in (await behind_proxy.get("/api/requests")).headers


async def test_the_api_docs_stay_public(client: httpx.AsyncClient) -> None:
    assert (await client.get("/schema/openapi.json")).status_code == 200


async def test_oversized_bodies_are_refused(
    workflow: Workflow, people: People
) -> None:
    app = create_app(settings_for(workflow, max_body_bytes=2048), workflow)
    body = factories.new_request(summary="x" * 4000)
    async with client_for(app) as client:
        answer = await client.post("/api/requests", json=body,
                                   headers=people.bearer("disclosure_officer"))
    assert answer.status_code == 413
