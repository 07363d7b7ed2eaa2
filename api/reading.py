"""Every answer that carries personal data goes on the read trail, derived from the permission
table: an endpoint marked `personal` in disclosure/access.py is logged when it answers 2xx, so a
new endpoint cannot forget to (one that keeps its own log, a search, is logged there instead).
A read that cannot be logged is not answered.

A handler that takes a `visit` logs the read itself, in the read's own transaction (one
session, one transaction, no second lookup of the request); the middleware then sees the visit
logged and writes nothing more. Every other personal answer is logged here, in a transaction of
its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api import problems
from disclosure import access
from disclosure.reads import ReadLog, Visit
from disclosure.users import Principal

VISIT = "visit"


async def provide_visit(request: Request[Any, Any, Any]) -> Visit:
    """The read the handler is answering, kept in the scope for the middleware to check."""
    principal = request.scope.get("user")
    if not isinstance(principal, Principal):
        raise RuntimeError("a personal read with no viewer")
    visit = Visit(principal.username, request.scope["route_handler"].handler_name)
    request.scope["state"][VISIT] = visit
    return visit


def _logged(scope: Scope) -> bool:
    visit = scope.get("state", {}).get(VISIT)
    return isinstance(visit, Visit) and visit.logged


# The path parameter that names what an answer is about, and the collection a created one's
# Location is in: a request, a MAPPA nominal, or a MAPP meeting (logged on its nominal's trail).
SUBJECTS = {"reference": "requests", "nominal_id": "nominals", "meeting_id": "meetings"}


def _subject(scope: Scope, start: Message) -> tuple[str, str] | None:
    """What the answer is about: the path's request, nominal or meeting, or a created one's
    Location."""
    params = scope.get("path_params", {})
    for name, collection in SUBJECTS.items():
        if params.get(name) is not None:
            return collection, str(params[name])
    location = MutableScopeHeaders.from_message(start).get("Location")
    if location:
        collection, _, key = location.removeprefix("/api/").partition("/")
        if collection in SUBJECTS.values() and key:
            return collection, key
    return None


def read_trail(
    reads: ReadLog, nominal_of: Callable[[int], Awaitable[int | None]]
) -> Callable[[ASGIApp], ASGIApp]:
    """A middleware factory over the app's read log; `nominal_of` names a meeting's nominal."""

    async def record(subject: tuple[str, str], viewer: str, endpoint: str) -> None:
        collection, key = subject
        if collection == "requests":
            await reads.record(key, viewer=viewer, endpoint=endpoint)
            return
        nominal = int(key) if collection == "nominals" else await nominal_of(int(key))
        if nominal is None:
            raise RuntimeError("a meeting's answer for no meeting")
        await reads.record_nominal(nominal, viewer=viewer, endpoint=endpoint)

    def middleware(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            handler = scope.get("route_handler")
            rule = access.endpoint_rule(handler.handler_name) if handler else None
            if scope["type"] != ScopeType.HTTP or rule is None or not rule.personal or rule.own_log:
                await app(scope, receive, send)
                return

            refused = False

            async def send_after_logging(message: Message) -> None:
                nonlocal refused
                if refused:
                    return
                if (
                    message["type"] == "http.response.start" and 200 <= message["status"] < 300
                    and not _logged(scope)
                ):
                    principal = scope.get("user")
                    subject = _subject(scope, message)
                    if not isinstance(principal, Principal) or subject is None:
                        raise RuntimeError("a personal answer with no viewer or record to log")
                    try:
                        await record(subject, principal.username, handler.handler_name)
                    except Exception as exc:
                        # Nothing of the answer has left: the failure to log it is the answer
                        # (503 when the database is away), and the personal answer is dropped.
                        refused = True
                        request: Request[Any, Any, Any] = Request(scope)
                        refusal = problems.answer(request, exc)
                        await refusal.to_asgi_response(None, request)(
                            scope, receive, send
                        )
                        return
                await send(message)

            await app(scope, receive, send_after_logging)

        return wrapped

    return middleware
