"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import ClientException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.accounts import close_session, issue_token, list_users, open_session, whoami
from api.alerts import list_alerts, review_alert
from api.audit import verify_trail, views
from api.auth import authorise, provide_actor, provide_principal
from api.correlation import correlate
from api.headers import security_headers
from api.health import healthz, readyz
from api.metrics import HTTP, metrics
from api.oversight import decisions, statistics
from api.problems import HANDLERS
from api.requests import RequestController
from api.search import list_searches, search
from disclosure import logs
from disclosure.alerts.service import Alerts
from disclosure.db import Database
from disclosure.policy import load_policy_book
from disclosure.reads import ReadLog
from disclosure.search.matching import FindingPolicy
from disclosure.search.service import Finder
from disclosure.settings import Settings
from disclosure.users import LoginPolicy, Users
from disclosure.workflow import Workflow

DOCS_PATH = "/schema"


async def one_value_per_parameter(request: Request[Any, Any, Any]) -> None:
    """Refuse a repeated query parameter rather than silently using its first value."""
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen:
            raise ClientException(f"{key}: given more than once")
        seen.add(key)


def create_app(settings: Settings | None = None, workflow: Workflow | None = None) -> Litestar:
    """Build the app; tests pass their own workflow (and so their own database and clock)."""
    settings = settings or Settings()
    logs.configure(settings.log_level)
    if workflow is None:
        policy = load_policy_book(settings.policy_file)
        workflow = Workflow(
            Database(settings.database_url, reports_url=settings.reports_database_url), policy,
            finding=FindingPolicy.from_settings(settings),
        )
    service = workflow
    users = Users(service.db, now=service.now, policy=LoginPolicy.from_settings(settings))
    reads = ReadLog(service.db, now=service.now)
    finder = Finder(service.db, service.finding, now=service.now)
    alerts = Alerts(service)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await service.db.dispose()

    def constant(value: Any) -> Provide:
        async def provide() -> Any:
            return value

        return Provide(provide)

    app = Litestar(
        route_handlers=[
            RequestController, verify_trail, views, statistics, decisions,
            open_session, close_session, whoami, issue_token, list_users,
            healthz, readyz, metrics, search, list_searches, list_alerts, review_alert,
        ],
        dependencies={
            "workflow": constant(service),
            "users": constant(users),
            "reads": constant(reads),
            "finder": constant(finder),
            "alerts": constant(alerts),
            "settings": constant(settings),
            "principal": Provide(provide_principal),
            "actor": Provide(provide_actor),
        },
        guards=[authorise],
        before_request=one_value_per_parameter,
        middleware=[security_headers(hsts=settings.hsts, docs_path=DOCS_PATH), HTTP.middleware],
        state=State({"users": users, "scrape_token": _scrape_token(settings)}),
        exception_handlers=HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="disclosure", version="0.1.0", path=DOCS_PATH,
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer"),
                "session": SecurityScheme(type="apiKey", name="disclosure_session",
                                          security_scheme_in="cookie"),
            }),
            security=[{"bearer": []}, {"session": []}],
        ),
        lifespan=[lifespan],
        debug=settings.debug,
        # Logging is set up by disclosure.logs, for every logger of the process.
        logging_config=None,
    )
    # Outermost, around routing too, so that even an unknown path's answer has a request id.
    app.asgi_handler = correlate(app.asgi_handler)
    return app


def _scrape_token(settings: Settings) -> str | None:
    """The token /metrics asks for, read once at start-up (missing file: start-up fails)."""
    if settings.metrics_token_file is None:
        return None
    token = settings.metrics_token_file.read_text().strip()
    if not token:
        raise ValueError(f"DISCLOSURE_METRICS_TOKEN_FILE: {settings.metrics_token_file} is empty")
    return token
