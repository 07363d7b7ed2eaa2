"""Authentication and authorisation at the edge: one guard on every route, reading the table."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from api.correlation import bind_actor
from disclosure import access
from disclosure.settings import Settings
from disclosure.users import Principal, Users

# The __Host- prefix makes browsers refuse the cookie unless it is Secure, for this host only
# and for every path; plain-HTTP development (DISCLOSURE_COOKIE_SECURE=0) cannot use it.
SESSION_COOKIE = "__Host-disclosure_session"
INSECURE_SESSION_COOKIE = "disclosure_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="disclosure"'}


def session_cookie(settings: Settings) -> str:
    return SESSION_COOKIE if settings.cookie_secure else INSECURE_SESSION_COOKIE


def _is_docs(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    config = connection.app.openapi_config
    if config is None or config.path is None:
        return False
    path: str = connection.scope["path"]
    return path == config.path or path.startswith(config.path + "/")


async def authorise(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Allow the call only if the permission table has a row for it that the caller meets."""
    if _is_docs(connection):
        return
    method = str(connection.scope.get("method", "GET"))
    rule = access.endpoint_rule(handler.handler_name)
    if method == "OPTIONS" and rule is None:
        return
    if rule is None:
        raise PermissionDeniedException("this endpoint has no access rule")
    if rule.public:
        if rule.scrape:
            _require_scrape_token(connection)
        return
    principal = await _authenticate(connection, method)
    connection.scope["user"] = principal
    bind_actor(principal.username)
    if not rule.roles & principal.roles:
        raise PermissionDeniedException("your roles do not allow this")


def _require_scrape_token(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    expected: str | None = connection.app.state.scrape_token
    if expected is None:
        return
    scheme, _, secret = (connection.headers.get("authorization") or "").partition(" ")
    # Compared as bytes: compare_digest refuses a str holding anything but ASCII.
    given = secret.strip().encode("utf-8", "surrogateescape")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected.encode()):
        raise NotAuthorizedException("send the scrape token: Authorization: Bearer <token>",
                                     headers=CHALLENGE)


async def _authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], method: str
) -> Principal:
    users: Users = connection.app.state.users
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise NotAuthorizedException("send Authorization: Bearer <token>", headers=CHALLENGE)
        principal = await users.authenticate(secret.strip(), kind="bearer")
        if principal is None:
            raise NotAuthorizedException("the token is invalid, expired or revoked",
                                         headers=CHALLENGE)
        return principal
    cookie = connection.cookies.get(connection.app.state.session_cookie)
    if cookie is None:
        raise NotAuthorizedException("sign in first", headers=CHALLENGE)
    principal = await users.authenticate(cookie, kind="session")
    if principal is None:
        raise NotAuthorizedException("the session has ended; sign in again", headers=CHALLENGE)
    # A cookie rides along on cross-site requests; only our own pages know the CSRF token. The
    # pages' forms carry it as a field, the API's callers in a header.
    if method not in SAFE_METHODS and not principal.csrf_matches(
        connection.headers.get(CSRF_HEADER) or await _form_token(connection)
    ):
        raise PermissionDeniedException(f"{CSRF_HEADER} is missing or does not match the session")
    return principal


async def _form_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The CSRF token a page's form sent (the body is kept for the handler to read)."""
    if not isinstance(connection, Request) or connection.content_type[0] not in FORMS:
        return None
    token = (await connection.form()).get(CSRF_FIELD)
    return token if isinstance(token, str) else None


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = request.scope.get("user")
    if not isinstance(principal, Principal):
        raise NotAuthorizedException("sign in first", headers=CHALLENGE)
    return principal


async def provide_actor(principal: NamedDependency[Principal]) -> str:
    """The name the trail records: the signed-in user's username."""
    return principal.username


def require_area(principal: Principal, area: str) -> None:
    if area != principal.area:
        raise PermissionDeniedException(
            f"you work in area {principal.area!r} and cannot act for area {area!r}"
        )


def require_event(principal: Principal, payload: Any) -> None:
    """Refuse (403) an event the caller's roles may not send, before the request is looked up."""
    event = type(payload).__struct_config__.tag
    try:
        access.require_event(principal.roles, str(event), payload)
    except access.Denied as exc:
        raise PermissionDeniedException(str(exc)) from exc
