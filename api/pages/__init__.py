"""The web pages: server-rendered GOV.UK Design System pages over the same services as the
API, their front-end assets served by the app itself, and errors shown as pages."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.static_files import create_static_files_router
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy.exc import DBAPIError

from api.auth import CHALLENGE
from api.pages import (
    admin,
    cases,
    dashboard,
    intake,
    lifecycle,
    mapp,
    public,
    queue,
    session,
    trail,
)
from api.pages.layout import render
from api.pages.session import safe_next, sign_in_page
from api.problems import unreachable
from disclosure.errors import NotFound

OURS = Path(__file__).resolve().parent / "static"
log = logging.getLogger("disclosure.pages")


def _error(request: Request[Any, Any, Any], status: int, title: str, detail: str,
           headers: dict[str, str] | None = None) -> Response[str]:
    return render(request, "error.html", status=status, title=title, detail=detail,
                  headers=headers)


def on_unauthenticated(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """Not signed in (or the session ended): the sign-in form, coming back here after."""
    back = request.url.path if request.method == "GET" else "/queue"
    if request.method == "GET" and request.url.query:
        back = f"{back}?{request.url.query}"
    return sign_in_page(request, status=401, next_path=safe_next(back), headers=CHALLENGE)


def on_forbidden(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    return _error(request, HTTP_403_FORBIDDEN, "You cannot open this page",
                  "Your roles do not allow this page. Ask your administrator if you need it.")


def on_not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    return _error(request, HTTP_404_NOT_FOUND, "Page not found",
                  "There is no such page or request in your area. Check the reference.")


def on_invalid(request: Request[Any, Any, Any], exc: ValidationException) -> Response[str]:
    return _error(request, HTTP_400_BAD_REQUEST, "There is a problem with the address",
                  "The page address holds a value it cannot take. Go back and try again.")


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    return _error(request, exc.status_code, "Sorry, there is a problem", str(exc.detail),
                  headers=exc.headers or None)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    if isinstance(exc, DBAPIError) and unreachable(exc):
        return _error(request, HTTP_503_SERVICE_UNAVAILABLE, "Sorry, the service is unavailable",
                      "The database is not answering; nothing was changed. Try again shortly.",
                      headers={"Retry-After": "5"})
    # The type and place only: an exception's text can carry what someone entered.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return _error(request, HTTP_500_INTERNAL_SERVER_ERROR, "Sorry, there is a problem",
                  "The service could not complete this. Nothing was changed.")


def assets(node_modules: Path) -> Router:
    """GOV.UK Frontend, htmx and Chart.js from the pinned npm packages, and the pages' own
    script and styles, under /assets (where GOV.UK Frontend's stylesheet looks for its fonts
    and images)."""
    govuk = node_modules / "govuk-frontend" / "dist" / "govuk"
    return create_static_files_router(
        path="/assets", name="assets", include_in_schema=False,
        directories=[OURS, govuk, govuk / "assets", node_modules / "htmx.org" / "dist",
                     node_modules / "chart.js" / "dist"],
    )


def pages(node_modules: Path) -> Router:
    return Router(
        path="/", include_in_schema=False,
        route_handlers=[
            session.page_home, session.page_sign_in, session.page_sign_in_submit,
            session.page_sign_out, queue.page_queue, queue.page_search, cases.page_case,
            cases.page_case_action, intake.page_new_request, intake.page_new_request_submit,
            public.page_apply, public.page_apply_submit, public.page_apply_received,
            trail.page_audit, trail.page_views, trail.page_searches, admin.page_admin,
            admin.page_admin_add_user, admin.page_admin_disable_user,
            admin.page_admin_add_division, admin.page_admin_add_area, lifecycle.page_lifecycle,
            mapp.page_mapp,
            mapp.page_new_nominal, mapp.page_new_nominal_submit, mapp.page_nominal,
            mapp.page_nominal_event, mapp.page_new_meeting, mapp.page_new_meeting_submit,
            mapp.page_meeting, mapp.page_meeting_event, dashboard.page_dashboard,
            dashboard.page_draw_review, dashboard.page_review, dashboard.page_review_event,
            assets(node_modules),
        ],
        exception_handlers={
            NotAuthorizedException: on_unauthenticated,
            PermissionDeniedException: on_forbidden,
            NotFound: on_not_found,
            NotFoundException: on_not_found,
            ValidationException: on_invalid,
            HTTPException: on_http,
            Exception: on_unexpected,
        },
    )
