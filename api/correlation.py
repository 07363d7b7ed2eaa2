"""A request id for every answer: on each log line while it is handled, and in X-Request-Id.

An id the caller (or the proxy in front) sends is kept if it is sane, so one id follows a
request through every hop; otherwise a new one is made. Each request ends with one access line:
method, route template (never the path, which holds reference numbers), status, duration and
the signed-in username.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from disclosure import logs

REQUEST_ID = "X-Request-Id"
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
log = logs.get("disclosure.access")


def request_id(incoming: str | None) -> str:
    """The caller's id if it is sane (letters, digits, . _ : -, at most 128), else a new one."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-request-id":
            return value.decode("latin-1")
    return None


def bind_actor(username: str) -> None:
    """Name the signed-in user on the rest of this request's log lines."""
    structlog.contextvars.bind_contextvars(actor=username)


def correlate(app: ASGIApp) -> ASGIApp:
    """Wrap the whole app, unknown paths included, so that every answer carries an id."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        rid = request_id(_incoming(scope))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID] = rid
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            log.info(
                "request", method=scope.get("method"),
                route=scope.get("path_template", "unmatched"), status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()

    return wrapped
