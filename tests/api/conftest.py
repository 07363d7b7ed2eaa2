"""An HTTP client over the app, on the test's database and clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from disclosure.db import Database
from disclosure.policy import load_policy_book
from disclosure.settings import Settings
from disclosure.workflow import Workflow
from tests.conftest import FakeClock


@pytest.fixture
async def client(database_url: str, clock: FakeClock) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    # The test client runs the app on an event loop of its own, so the app gets its own
    # engine: a pooled connection must not move between loops.
    settings = Settings(database_url=database_url, max_body_bytes=65536)
    app_workflow = Workflow(Database(database_url), load_policy_book(None), now=clock)
    async with AsyncTestClient(app=create_app(settings, app_workflow)) as http:
        yield http
