"""Security headers on every answer, routing errors (404, 405) included, and an `Allow` that
names every method a path has."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Coroutine
from typing import Any

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

# The web pages serve their own scripts and styles; nothing inline, nothing from elsewhere.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
# The schema viewer's scripts come from the app too (api/docs.py); Swagger UI sets inline style
# attributes as it draws, so styles alone may be inline. No other host is named.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
STYLE_ELEMENT = re.compile(rb"<style>(.*?)</style>", re.DOTALL)


def own_styles_csp(document: bytes) -> str:
    """The pages' policy for a document that carries its own stylesheet (the printable annual
    report, so that a saved copy prints the same): its `<style>` elements are allowed by their
    SHA-256 hashes, and nothing else inline."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(style).digest()).decode()}'"
        for style in STYLE_ELEMENT.findall(document)
    )
    return PAGE_CSP.replace("style-src 'self'", f"style-src 'self' {hashes}".rstrip())

Hook = Callable[[Message, Scope], Coroutine[Any, Any, None]]


def path_methods(app: Litestar) -> dict[str, str]:
    """Each path template's methods, as an `Allow` header lists them."""
    found: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            found.setdefault(route.path_format, set()).update(route.methods)
    return {path: ", ".join(sorted(methods)) for path, methods in found.items()}


def _fixed(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


# Set on every answer, replacing any the handler set.
_ALWAYS = _fixed(
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
# Answers and pages carry personal data: no browser or proxy may keep a copy. Only the
# front-end assets may be kept.
_NO_STORE = _fixed(("Cache-Control", "no-store"))
_HSTS = _fixed(("Strict-Transport-Security", HSTS))
_CSP = b"content-security-policy"
_PAGE_CSP = _fixed(("Content-Security-Policy", PAGE_CSP))
_DOCS_CSP = _fixed(("Content-Security-Policy", DOCS_CSP))
_ALLOW = b"allow"


def security_headers(*, hsts: bool, docs_path: str, allow: dict[str, str]) -> Hook:
    """A before-send hook; `hsts` forces Strict-Transport-Security behind a TLS proxy, and
    `allow` (filled once the app is built) answers OPTIONS with every method of the path.

    Each header set here replaces any of that name the answer carried; the rest are kept. The
    answer's headers are rewritten in one pass: this runs on every answer."""

    async def hook(message: Message, scope: Scope) -> None:
        if scope["type"] != ScopeType.HTTP or message["type"] != "http.response.start":
            return
        path: str = scope["path"]
        docs = path == docs_path or path.startswith(docs_path + "/")
        given: list[tuple[bytes, bytes]] = list(message.get("headers") or ())
        added = list(_ALWAYS)
        # An answer that brought its own policy (own_styles_csp) keeps it.
        if not any(name.lower() == _CSP for name, _ in given):
            added += _DOCS_CSP if docs else _PAGE_CSP
        if not path.startswith("/assets/"):
            added += _NO_STORE
        if hsts or scope.get("scheme") == "https":
            added += _HSTS
        template = scope.get("path_template")
        if scope.get("method") == "OPTIONS" and template in allow:
            added.append((_ALLOW, allow[template].encode("latin-1")))
        replaced = {name for name, _ in added}
        message["headers"] = [
            (name, value) for name, value in given if name.lower() not in replaced
        ] + added

    return hook
