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
from schemathesis.checks import missing_required_header, positive_data_acceptance

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


# Where JSON Schema cannot say what the server checks, and why; every other check runs everywhere.
# Rules across fields (a right-to-ask request needs an applicant, a decision to disclose needs
# its wording and recipient) are written in each body's description, not in its schema, so a
# schema-valid body can still be refused with a 400 naming the rule.
CROSS_FIELD_RULES = {
    ("POST", "/api/requests"), ("POST", "/api/requests/{reference}/events"),
    ("POST", "/api/meetings/{meeting_id}/events"),
}
# Answers that depend on the data, not the schema: a well-formed reference that does not exist
# is 404, a well-formed event the request's state does not take is 409, and a stale or made-up
# If-Match is 412; sign-in with a made-up username and password is 401; a `cursor` must be one
# this service issued (it is opaque: any other string is 400). A search's `q` is read as names,
# dates and contacts, so an impossible date in it (31/02/1985) is 400; an alert that does not
# exist is 404, and a division not in the area's register is 400.
DEPENDS_ON_DATA = CROSS_FIELD_RULES | {
    ("GET", "/api/requests/{reference}"), ("GET", "/api/requests/{reference}/events"),
    ("GET", "/api/requests/{reference}/clock"), ("GET", "/api/requests/{reference}/actions"),
    ("GET", "/api/requests/{reference}/views"), ("POST", "/api/tokens"),
    ("POST", "/api/session"), ("GET", "/api/requests"),
    ("GET", "/api/search"), ("GET", "/api/searches"), ("GET", "/api/alerts"),
    ("POST", "/api/alerts/{alert_id}/events"),
    # A report's `period` is read as a financial year, a quarter or dates (2025-27 is not a
    # year, 2025-02-30 not a day) and `as_at` as a time with a zone; another area is 404. A
    # review's period likewise; a review that does not exist is 404, and an item not in it 400.
    ("GET", "/api/reports/annual"), ("POST", "/api/reviews"),
    ("GET", "/api/reviews/{review_id}"), ("POST", "/api/reviews/{review_id}/events"),
    ("GET", "/api/reviews/{review_id}/decisions/{reference}"),
    # MAPP panels: a nominal or meeting that does not exist is 404; a nominal's reference is
    # unique in its area, a meeting's level and date must fit the nominal's history (400), and
    # a meeting's event must be one its state takes (409).
    ("POST", "/api/nominals"), ("GET", "/api/nominals/{nominal_id}"),
    ("POST", "/api/nominals/{nominal_id}/events"), ("POST", "/api/meetings"),
    ("GET", "/api/meetings/{meeting_id}"), ("GET", "/api/meetings"),
}
# A missing If-Match answers 428 Precondition Required (RFC 6585), which this check does not count
# as a refusal; tests/api/test_requests_api.py::test_missing_if_match_is_428 and
# tests/api/test_finding_api.py (an alert's review) and tests/api/test_mapp_api.py (a nominal's and
# a meeting's events) assert it.
PRECONDITION_REQUIRED = {
    ("POST", "/api/requests/{reference}/events"), ("POST", "/api/alerts/{alert_id}/events"),
    ("POST", "/api/reviews/{review_id}/events"),
    ("POST", "/api/nominals/{nominal_id}/events"), ("POST", "/api/meetings/{meeting_id}/events"),
}


@schema.parametrize()
# CI replays a fixed set of examples so a landing is reproducible; locally each run explores anew.
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=os.environ.get("CI") == "true")
@pytest.mark.slow
def test_api_honours_its_schema(case: schemathesis.Case) -> None:
    operation = (case.operation.method.upper(), case.operation.path)
    excluded = [positive_data_acceptance] if operation in DEPENDS_ON_DATA else []
    if operation in PRECONDITION_REQUIRED:
        excluded.append(missing_required_header)
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded)
