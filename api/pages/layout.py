"""Rendering a page: the Jinja templates, the navigation each person's roles allow, and the
CSRF token their forms carry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from api.auth import CSRF_FIELD
from api.pages.forms import UK
from api.pages.words import event_title, option_label
from disclosure import access
from disclosure.users import Principal

TEMPLATES = Path(__file__).resolve().parent / "templates"
SERVICE_NAME: Final = "Disclosure requests"

# The navigation: each item shown only to those the permission table lets open its page.
NAVIGATION: Final[tuple[tuple[str, str, str], ...]] = (
    ("My queue", "/queue", "page_queue"),
    ("New application", "/requests/new?route=right_to_ask", "page_new_request"),
    ("New referral", "/requests/new?route=right_to_know", "page_new_request"),
    ("MAPP", "/mapp", "page_mapp"),
    ("Dashboard", "/dashboard", "page_dashboard"),
    ("Audit", "/audit", "page_audit"),
    ("Search log", "/audit/searches", "page_searches"),
    ("Admin", "/admin", "page_admin"),
    ("Lifecycle", "/lifecycle", "page_lifecycle"),
)


def csrf_cookie(session_cookie: str) -> str:
    """The cookie that keeps the CSRF token for the pages' forms, beside the session's."""
    return session_cookie.replace("session", "csrf")


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UK).strftime("%-d %b %Y, %H:%M")


def _day(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(UK).date()
    return value.strftime("%-d %B %Y")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["words"] = lambda code: option_label(str(code)) if code is not None else ""
    env.filters["event"] = event_title
    env.filters["when"] = _when
    env.filters["day"] = _day
    return env


ENV: Final = _environment()


def navigation(principal: Principal | None, path: str) -> list[dict[str, Any]]:
    if principal is None:
        return []
    return [
        {"label": label, "href": href,
         "current": path == href if "?" in href else path.split("?")[0] == href}
        for label, href, handler in NAVIGATION
        if access.may_call(principal.roles, handler)
    ]


def home(principal: Principal) -> str:
    """Where a person's pages start: the first page of the navigation their roles open (the
    queue for casework, the dashboard for the board)."""
    return str(navigation(principal, "")[0]["href"])


def render(
    request: Request[Any, Any, Any], template: str, *, status: int = 200,
    headers: Mapping[str, str] | None = None, cookies: list[Cookie] | None = None,
    **context: Any,
) -> Response[str]:
    """A whole page (htmx picks out the part it replaces with `hx-select`)."""
    principal = request.scope.get("user")
    if not isinstance(principal, Principal):
        principal = None
    cookie = csrf_cookie(request.app.state.session_cookie)
    body = ENV.get_template(template).render(
        principal=principal, csrf=request.cookies.get(cookie, ""), csrf_field=CSRF_FIELD,
        nav=navigation(principal, request.url.path + (
            f"?{request.url.query}" if request.url.query else "")), service_name=SERVICE_NAME,
        path=request.url.path,
        home=home(principal) if principal is not None else "/",
        may=lambda handler: principal is not None and access.may_call(principal.roles, handler),
        **context,
    )
    return Response(body, status_code=status, media_type=MediaType.HTML,
                    headers=dict(headers or {}), cookies=cookies)
