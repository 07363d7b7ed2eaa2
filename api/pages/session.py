"""Signing in and out of the pages: the session cookie and its CSRF token, as the API's
session gives them, the token kept in a second cookie for the forms to carry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import QueryParameter
from litestar.response import Redirect

from api.accounts import Login, sign_in
from api.pages.layout import csrf_cookie, home, render
from disclosure import access
from disclosure.settings import Settings
from disclosure.users import Principal, Users

DEFAULT_LANDING = "/queue"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this service only, never another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return DEFAULT_LANDING


def sign_in_page(
    request: Request[Any, Any, Any], *, status: int = 200, next_path: str = "/queue",
    error: str | None = None, username: str = "", message: str | None = None,
    headers: Mapping[str, str] | None = None, cookies: list[Cookie] | None = None,
) -> Response[str]:
    return render(
        request, "sign_in.html", status=status, next_path=next_path, error=error,
        username=username, message=message, error_count=1 if error else 0, headers=headers,
        cookies=cookies,
    )


@get("/")
async def page_home(request: Request[Any, Any, Any], users: NamedDependency[Users]) -> Redirect:
    """The service's front door: the signed-in person's first page (the queue for casework,
    the dashboard for the board), or the queue's sign-in form."""
    cookie = request.cookies.get(request.app.state.session_cookie)
    principal = await users.authenticate(cookie, kind="session") if cookie else None
    return Redirect(home(principal) if principal else DEFAULT_LANDING, status_code=303)


@get("/sign-in", sync_to_thread=False)
def page_sign_in(
    request: Request[Any, Any, Any],
    next_path: Annotated[str | None, QueryParameter(name="next", max_length=500)] = None,
) -> Response[str]:
    return sign_in_page(request, next_path=safe_next(next_path))


@post("/sign-in", status_code=303)
async def page_sign_in_submit(
    request: Request[Any, Any, Any], users: NamedDependency[Users],
    settings: NamedDependency[Settings],
) -> Response[Any]:
    form = await request.form()
    username = str(form.get("username") or "").strip()
    next_path = safe_next(str(form.get("next") or ""))
    try:
        login = msgspec.convert(
            {"username": username, "password": str(form.get("password") or "")}, Login
        )
    except msgspec.ValidationError:
        return sign_in_page(request, status=400, next_path=next_path, username=username[:64],
                            error="Enter your username and password")
    try:
        issued = await sign_in(request, login, users, settings, "session")
    except NotAuthorizedException:
        return sign_in_page(request, status=401, next_path=next_path, username=username,
                            error="Sign-in failed: wrong username or password")
    except HTTPException as exc:
        return sign_in_page(request, status=exc.status_code, next_path=next_path,
                            username=username, error=str(exc.detail), headers=exc.headers)
    age = int((issued.expires_at - users.now()).total_seconds())
    name = request.app.state.session_cookie
    principal = await users.authenticate(issued.secret, kind="session")
    if principal is not None and not access.may_call(principal.roles, "page_queue") and (
        next_path == DEFAULT_LANDING
    ):
        # Oversight roles have no queue: their first page instead.
        next_path = home(principal)
    return Redirect(next_path, status_code=303, cookies=[
        Cookie(key=name, value=issued.secret, path="/", httponly=True,
               secure=settings.cookie_secure, samesite="strict", max_age=age),
        Cookie(key=csrf_cookie(name), value=issued.csrf_token or "", path="/", httponly=True,
               secure=settings.cookie_secure, samesite="strict", max_age=age),
    ])


@post("/sign-out", status_code=303)
async def page_sign_out(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal],
    users: NamedDependency[Users], settings: NamedDependency[Settings],
) -> Response[str]:
    await users.revoke(principal.credential_id)
    name = request.app.state.session_cookie
    request.scope["user"] = None
    return sign_in_page(request, message="You have signed out.", cookies=[
        Cookie(key=key, value="", path="/", httponly=True, secure=settings.cookie_secure,
               samesite="strict", max_age=0)
        for key in (name, csrf_cookie(name))
    ])
