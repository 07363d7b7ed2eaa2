"""Signing in and out: web sessions (cookie + CSRF token), bearer tokens, and the user list."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from functools import cache
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_429_TOO_MANY_REQUESTS

from api.auth import CHALLENGE, session_cookie
from api.metrics import SIGN_IN_FAILURES
from api.problems import WITH_BODY, documented
from disclosure.schemas import Plain
from disclosure.settings import Settings
from disclosure.users import BadCredentials, Issued, Principal, TooManyAttempts, Users, UserView


class Login(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A username and password; nothing else is accepted."""

    username: Annotated[Plain, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[Plain, msgspec.Meta(min_length=1, max_length=1024)]


class SessionOpened(msgspec.Struct, kw_only=True):
    username: str
    display_name: str
    area: str
    roles: list[str]
    csrf_token: str
    expires_at: datetime


class TokenIssued(msgspec.Struct, kw_only=True):
    token: str
    token_type: str
    expires_at: datetime


class Me(msgspec.Struct, kw_only=True):
    username: str
    display_name: str
    area: str
    roles: list[str]
    credential: str


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def client_address(request: Request[Any, Any, Any], trusted: tuple[str, ...]) -> str:
    """Who is signing in: the peer, or the client a trusted proxy names in X-Forwarded-For.

    The header is read right to left, past the trusted proxies only: anything to the left of
    the first untrusted hop could have been written by the client itself.
    """
    peer = request.client.host if request.client else "unknown"
    proxies = networks(trusted)

    def is_proxy(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in proxies)

    if not is_proxy(peer):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("x-forwarded-for", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not is_proxy(hop):
            return hop
        peer = hop
    return peer


async def sign_in(
    request: Request[Any, Any, Any], data: Login, users: Users, settings: Settings, kind: str
) -> Issued:
    source = client_address(request, settings.trusted_proxies)
    # A session cookie sent with the sign-in ends: each sign-in starts a new session.
    replacing = request.cookies.get(session_cookie(settings)) if kind == "session" else None
    try:
        return await users.login(
            data.username, data.password, source=source, kind=kind, replacing=replacing
        )
    except BadCredentials as exc:
        SIGN_IN_FAILURES.labels(reason="bad_credentials").inc()
        raise NotAuthorizedException("wrong username or password", headers=CHALLENGE) from exc
    except TooManyAttempts as exc:
        SIGN_IN_FAILURES.labels(reason="too_many_attempts").inc()
        raise HTTPException(
            status_code=HTTP_429_TOO_MANY_REQUESTS, detail=str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc


@post("/api/session", status_code=HTTP_201_CREATED, tags=["session"],
      responses=documented(*WITH_BODY, 429))
async def open_session(
    request: Request[Any, Any, Any],
    data: JSONBody[Login],
    users: NamedDependency[Users],
    settings: NamedDependency[Settings],
) -> Response[SessionOpened]:
    """Sign in for the web pages: sets the session cookie and returns the CSRF token."""
    issued = await sign_in(request, data, users, settings, "session")
    principal = await users.authenticate(issued.secret, kind="session")
    assert principal is not None and issued.csrf_token is not None
    return Response(
        SessionOpened(
            username=principal.username, display_name=principal.display_name,
            area=principal.area, roles=sorted(principal.roles), csrf_token=issued.csrf_token,
            expires_at=issued.expires_at,
        ),
        status_code=HTTP_201_CREATED,
        cookies=[Cookie(
            key=session_cookie(settings), value=issued.secret, path="/", httponly=True,
            secure=settings.cookie_secure, samesite="strict",
            max_age=int((issued.expires_at - users.now()).total_seconds()),
        )],
    )


@delete("/api/session", status_code=HTTP_204_NO_CONTENT, tags=["session"],
        responses=documented())
async def close_session(
    principal: NamedDependency[Principal],
    users: NamedDependency[Users],
    settings: NamedDependency[Settings],
) -> Response[None]:
    """Sign out: revokes the credential this call was made with (session or token)."""
    await users.revoke(principal.credential_id)
    return Response(
        None, status_code=HTTP_204_NO_CONTENT,
        cookies=[Cookie(key=session_cookie(settings), value="", path="/", httponly=True,
                        secure=settings.cookie_secure, samesite="strict", max_age=0)],
    )


@get("/api/session", tags=["session"], responses=documented())
async def whoami(principal: NamedDependency[Principal]) -> Me:
    """Who the credential belongs to."""
    return Me(
        username=principal.username, display_name=principal.display_name, area=principal.area,
        roles=sorted(principal.roles), credential=principal.kind,
    )


@post("/api/tokens", status_code=HTTP_201_CREATED, tags=["session"],
      responses=documented(*WITH_BODY, 429))
async def issue_token(
    request: Request[Any, Any, Any],
    data: JSONBody[Login],
    users: NamedDependency[Users],
    settings: NamedDependency[Settings],
) -> TokenIssued:
    """Exchange a username and password for a bearer token (shown once)."""
    issued = await sign_in(request, data, users, settings, "bearer")
    return TokenIssued(token=issued.secret, token_type="Bearer", expires_at=issued.expires_at)


class Ended(msgspec.Struct, kw_only=True):
    ended: int


@delete("/api/sessions/others", status_code=200, tags=["session"], responses=documented())
async def end_other_sessions(
    principal: NamedDependency[Principal], users: NamedDependency[Users]
) -> Ended:
    """Sign out everywhere else: ends every other session and token of yours, not this one."""
    return Ended(ended=await users.revoke_others(principal))


@get("/api/users", tags=["users"], responses=documented())
async def list_users(
    principal: NamedDependency[Principal], users: NamedDependency[Users]
) -> list[UserView]:
    """The accounts of the administrator's own area."""
    return await users.list(area=principal.area)
