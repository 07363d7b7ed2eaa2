"""Probes for the load balancer and the orchestrator: alive, and ready to take traffic."""

from __future__ import annotations

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from disclosure.readiness import Readiness, readiness
from disclosure.settings import Settings
from disclosure.workflow import Workflow


class Alive(msgspec.Struct, kw_only=True):
    status: str


# The probes are for the load balancer, not API clients: described in docs/operations.md and
# left out of the OpenAPI document, whose every operation needs a credential.
@get("/healthz", include_in_schema=False)
async def healthz() -> Alive:
    """Liveness: the process answers. Touches no database, so a database outage never gets a
    healthy process restarted."""
    return Alive(status="alive")


@get("/readyz", include_in_schema=False)
async def readyz(
    workflow: NamedDependency[Workflow], settings: NamedDependency[Settings]
) -> Response[Readiness]:
    """Readiness: every check passes (503 naming the failing ones otherwise)."""
    found = await readiness(settings, workflow.db)
    return Response(
        found, status_code=HTTP_200_OK if found.ready else HTTP_503_SERVICE_UNAVAILABLE
    )
