"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from api.audit import verify_trail
from api.problems import HANDLERS
from api.requests import RequestController
from disclosure.db import Database
from disclosure.policy import load_policy_book
from disclosure.settings import Settings
from disclosure.workflow import Workflow


def create_app(settings: Settings | None = None, workflow: Workflow | None = None) -> Litestar:
    """Build the app; tests pass their own workflow (and so their own database and clock)."""
    settings = settings or Settings()
    if workflow is None:
        policy = load_policy_book(settings.policy_file)
        workflow = Workflow(Database(settings.database_url), policy)
    service = workflow

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await service.db.dispose()

    async def provide_workflow() -> Workflow:
        return service

    async def provide_actor() -> str:
        return settings.dev_actor

    return Litestar(
        route_handlers=[RequestController, verify_trail],
        dependencies={
            "workflow": Provide(provide_workflow),
            "actor": Provide(provide_actor),
        },
        exception_handlers=HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="disclosure", version="0.1.0", path="/schema"),
        lifespan=[lifespan],
        debug=settings.debug,
    )
