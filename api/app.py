"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.accounts import (
    close_session,
    end_other_sessions,
    issue_token,
    list_users,
    open_session,
    whoami,
)
from api.alerts import list_alerts, review_alert
from api.audit import verify_trail, views
from api.auth import authorise, provide_actor, provide_principal, session_cookie
from api.contract import StrictStructSchema
from api.correlation import correlate
from api.docs import LocalSwagger
from api.headers import path_methods, security_headers
from api.health import healthz, readyz
from api.inputs import QueryNames, refuse_bad_input
from api.mapp import (
    change_nominal,
    create_meeting,
    create_nominal,
    list_meetings,
    read_meeting,
    read_nominal,
    send_meeting_event,
)
from api.metrics import HTTP, metrics
from api.oversight import decisions, statistics
from api.pages import pages
from api.problems import HANDLERS
from api.reading import provide_visit, read_trail
from api.reports import (
    annual_report,
    draw_review,
    list_reviews,
    read_review,
    released_decision,
    review_event,
)
from api.requests import RequestController
from api.search import list_searches, search
from disclosure import jobs, logs
from disclosure.alerts.service import Alerts
from disclosure.db import Database
from disclosure.mapp.meetings import Meetings
from disclosure.mapp.nominals import Nominals
from disclosure.online import OnlineApplications, OnlineLimits
from disclosure.policy import load_policy_book
from disclosure.reads import ReadLog
from disclosure.reviews.service import Reviews
from disclosure.search.matching import FindingPolicy
from disclosure.search.service import Finder
from disclosure.settings import Settings
from disclosure.users import LoginPolicy, Users
from disclosure.verification import Verifier
from disclosure.workflow import Workflow

DOCS_PATH = "/schema"


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
    online = OnlineApplications(service.db, OnlineLimits(
        per_source_per_hour=settings.online_per_source_per_hour,
        per_hour=settings.online_per_hour,
    ), now=service.now)
    reviews = Reviews(service, reads)
    verifier = Verifier(service.db)
    nominals = Nominals(service)
    meetings = Meetings(service)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        background = None
        if settings.jobs_minutes > 0:
            background = asyncio.create_task(jobs.every(
                timedelta(minutes=settings.jobs_minutes), service.db, users,
                keep=timedelta(days=settings.prune_after_days),
            ))
        try:
            yield
        finally:
            if background is not None:
                background.cancel()
                with suppress(asyncio.CancelledError):
                    await background
            verifier.close()
            await service.db.dispose()

    def constant(value: Any) -> Provide:
        async def provide() -> Any:
            return value

        return Provide(provide)

    query_names = QueryNames()
    allow: dict[str, str] = {}
    app = Litestar(
        route_handlers=[
            RequestController, verify_trail, views, statistics, decisions,
            open_session, close_session, whoami, issue_token, end_other_sessions, list_users,
            healthz, readyz, metrics, search, list_searches, list_alerts, review_alert,
            pages(settings.node_modules),
            annual_report, draw_review, list_reviews, read_review, review_event,
            released_decision,
            create_nominal, read_nominal, change_nominal, create_meeting, list_meetings,
            read_meeting, send_meeting_event,
        ],
        dependencies={
            "workflow": constant(service),
            "users": constant(users),
            "reads": constant(reads),
            "finder": constant(finder),
            "alerts": constant(alerts),
            "online": constant(online),
            "reviews": constant(reviews),
            "verifier": constant(verifier),
            "nominals": constant(nominals),
            "meetings": constant(meetings),
            "settings": constant(settings),
            "principal": Provide(provide_principal),
            "actor": Provide(provide_actor),
            "visit": Provide(provide_visit),
        },
        guards=[authorise],
        before_request=refuse_bad_input(query_names),
        plugins=[StrictStructSchema()],
        middleware=[read_trail(reads, meetings.nominal_of), HTTP.middleware],
        before_send=[security_headers(hsts=settings.hsts, docs_path=DOCS_PATH, allow=allow)],
        state=State({"users": users, "session_cookie": session_cookie(settings),
                     "scrape_token": _scrape_token(settings)}),
        exception_handlers=HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="disclosure", version="0.1.0", path=DOCS_PATH,
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer"),
                "session": SecurityScheme(type="apiKey", name=session_cookie(settings),
                                          security_scheme_in="cookie"),
            }),
            security=[{"bearer": []}, {"session": []}],
            render_plugins=[LocalSwagger()],
        ),
        lifespan=[lifespan],
        debug=settings.debug,
        # Logging is set up by disclosure.logs, for every logger of the process.
        logging_config=None,
    )
    query_names.learn(app)
    allow.update(path_methods(app))
    # Outermost, around routing too, so that even an unknown path's answer has a request id.
    app.asgi_handler = correlate(app.asgi_handler)
    return app


def served_app() -> Litestar:
    """The app as `disclosure serve` runs it in each worker: built, then everything built so far
    (the app, its routes, schemas, engine and imported modules) frozen out of the garbage
    collector's passes. A full pass over those objects took tens of milliseconds, a pause
    every request in flight waited for; what requests make is still collected."""
    app = create_app()
    gc.freeze()
    return app


def _scrape_token(settings: Settings) -> str | None:
    """The token /metrics asks for, read once at start-up (missing file: start-up fails)."""
    if settings.metrics_token_file is None:
        return None
    token = settings.metrics_token_file.read_text().strip()
    if not token:
        raise ValueError(f"DISCLOSURE_METRICS_TOKEN_FILE: {settings.metrics_token_file} is empty")
    return token
