"""Security headers on every answer, OPTIONS naming every method, and a schema viewer that
loads nothing from another host."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from litestar.types import Message

from api.app import create_app
from api.headers import security_headers
from disclosure.settings import Settings
from tests.api.conftest import client_for

APP = create_app(Settings(database_url="sqlite+aiosqlite:///unused.db"))


@pytest.fixture
async def plain() -> httpx.AsyncClient:
    async with client_for(APP) as found:
        yield found


def assert_secured(answer: httpx.Response) -> None:
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], answer.request.url
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    # Each once: a header the answer already carried is replaced, not repeated.
    for name in ("Content-Security-Policy", "X-Frame-Options", "Cache-Control", "Allow"):
        assert len(headers.get_list(name)) <= 1, (name, headers.get_list(name))


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/no/such/page", 404),
    ("GET", "/api/no-such-endpoint", 404),
    ("PUT", "/api/requests", 405),
    ("PATCH", "/api/session", 405),
    ("TRACE", "/api/requests", 405),
])
async def test_routing_errors_carry_the_security_headers(
    plain: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    answer = await plain.request(method, path)
    assert answer.status_code == status
    assert_secured(answer)
    if status == 405:
        # RFC 9110: a 405 names the methods the path does take.
        assert answer.headers.get_list("Allow"), answer.headers
    if path.startswith("/api/"):
        assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("path", "methods"), [
    ("/api/requests", {"GET", "POST", "OPTIONS"}),
    ("/api/session", {"GET", "POST", "DELETE", "OPTIONS"}),
    ("/api/requests/DVDS-2026-000001/events", {"GET", "POST", "OPTIONS"}),
])
async def test_options_names_every_method_of_the_path(
    plain: httpx.AsyncClient, path: str, methods: set[str]
) -> None:
    answer = await plain.options(path)
    assert answer.status_code == 204
    assert {m.strip() for m in answer.headers["Allow"].split(",")} == methods
    assert_secured(answer)


async def test_an_answer_that_sets_a_security_header_has_it_replaced_once() -> None:
    hook = security_headers(hsts=False, docs_path="/schema", allow={"/api/x": "GET, OPTIONS"})
    message: Message = {"type": "http.response.start", "status": 200, "headers": [
        (b"cache-control", b"max-age=600"), (b"x-frame-options", b"SAMEORIGIN"),
        (b"allow", b"GET"),
        (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"),
        (b"content-security-policy", b"default-src 'none'"),
    ]}
    scope: Any = {"type": "http", "path": "/api/x", "method": "OPTIONS",
                  "path_template": "/api/x", "scheme": "http"}
    await hook(message, scope)
    headers = httpx.Headers(message["headers"])
    assert headers.get_list("cache-control") == ["no-store"]
    assert headers.get_list("x-frame-options") == ["DENY"]
    assert headers.get_list("set-cookie") == ["a=1", "b=2"]
    # The answer's own policy stands (the printable report brings one).
    assert headers.get_list("content-security-policy") == ["default-src 'none'"]
    assert headers.get_list("allow") == ["GET, OPTIONS"]
    assert "strict-transport-security" not in headers
    # A front-end asset may be kept: its own Cache-Control stands, and a 405 keeps its Allow.
    asset: Message = {"type": "http.response.start", "status": 405, "headers": [
        (b"cache-control", b"max-age=600"), (b"allow", b"GET, HEAD"),
    ]}
    await hook(asset, {"type": "http", "path": "/assets/app.css", "method": "POST"})
    kept = httpx.Headers(asset["headers"])
    assert kept.get_list("cache-control") == ["max-age=600"]
    assert kept.get_list("allow") == ["GET, HEAD"]
    assert kept.get_list("x-frame-options") == ["DENY"]


async def test_the_schema_viewer_loads_only_from_the_app(plain: httpx.AsyncClient) -> None:
    page = await plain.get("/schema")
    assert page.status_code == 200
    assert_secured(page)
    csp = page.headers["Content-Security-Policy"]
    assert "http" not in csp and "script-src 'self';" in csp
    assert "<script>" not in page.text, "no inline script"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/schema/") for s in sources)
    for source in sources:
        asset = await plain.get(source)
        assert asset.status_code == 200 and len(asset.content) > 100, source
    assert "SwaggerUIBundle" in (await plain.get("/schema/assets/swagger-ui-bundle.js")).text
