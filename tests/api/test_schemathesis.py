"""Property-based contract check: generated requests against /schema cause no server error
and every response matches the documented schema."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from schemathesis.checks import (
    allow_header_conformance,
    negative_data_rejection,
    positive_data_acceptance,
)

from api.app import create_app
from disclosure.access import ROLES
from disclosure.db import Database
from disclosure.migrations import upgrade
from disclosure.settings import Settings
from disclosure.users import Users
from tests.api.conftest import TEST_HASHER


async def _token(url: str) -> str:
    """A user holding every role, so that the run reaches every endpoint."""
    db = Database(url)
    users = Users(db, hasher=TEST_HASHER)
    await users.add_area("derbyshire", name="Derbyshire Constabulary", divisions=["north"])
    await users.add("contract", password="a long contract-test password", area="derbyshire",
                    roles=ROLES, created_by="test")
    secret = (await users.issue("contract")).secret
    await db.dispose()
    return secret


def _app() -> tuple[Litestar, str]:
    path = Path(__file__).resolve().parents[2] / "var" / "schemathesis.db"
    path.parent.mkdir(exist_ok=True)
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return create_app(Settings(database_url=url, login_source_limit=100_000)), asyncio.run(
        _token(url)
    )


APP, TOKEN = _app()
# Signing out would revoke the run's own token; tests/api cover it directly.
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", APP).exclude(
    method="DELETE", path="/api/session"
)


@schema.parametrize()
# CI replays a fixed set of examples so a landing is reproducible; locally each run explores anew.
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=os.environ.get("CI") == "true")
@pytest.mark.slow
def test_api_honours_its_schema(case: schemathesis.Case) -> None:
    # Cross-field rules (a right-to-ask request needs an applicant, say) cannot be written in
    # OpenAPI, so a schema-valid body may still be refused with a 400 naming the rule.
    # Litestar answers OPTIONS itself, naming only one handler's methods where GET and POST share
    # a path; the API has no CORS and no client relies on OPTIONS.
    # Invalid ("negative") cases still run, and must get no server error and a documented answer,
    # but whether each is refused is not asserted: the run's own bearer token replaces a mutated
    # Authorization header, and a one-element array serialises exactly as a scalar query value,
    # so some generated "invalid" requests are valid by the time they are sent.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[
            positive_data_acceptance, negative_data_rejection, allow_header_conformance,
        ],
    )
