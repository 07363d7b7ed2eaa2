"""Security headers on every answer, errors included."""

from __future__ import annotations

from collections.abc import Callable

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

# The web pages serve their own scripts and styles; nothing inline, nothing from elsewhere.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
# The OpenAPI viewers load their bundles from a CDN and start with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    "https://unpkg.com; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    "https://unpkg.com https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://cdn.jsdelivr.net; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(*, hsts: bool, docs_path: str) -> Callable[[ASGIApp], ASGIApp]:
    """A middleware factory; `hsts` forces Strict-Transport-Security behind a TLS proxy."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            path: str = scope["path"]
            docs = path == docs_path or path.startswith(docs_path + "/")
            tls = hsts or scope.get("scheme") == "https"

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = MutableScopeHeaders.from_message(message)
                    headers["Content-Security-Policy"] = DOCS_CSP if docs else PAGE_CSP
                    headers["X-Content-Type-Options"] = "nosniff"
                    headers["X-Frame-Options"] = "DENY"
                    headers["Referrer-Policy"] = "no-referrer"
                    headers["Cross-Origin-Opener-Policy"] = "same-origin"
                    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                    if path.startswith("/api/"):
                        # Answers carry personal data: no browser or proxy may keep a copy.
                        headers["Cache-Control"] = "no-store"
                    if tls:
                        headers["Strict-Transport-Security"] = HSTS
                await send(message)

            await app(scope, receive, send_with_headers)

        return wrapped

    return middleware
