"""An app over the test database, two areas, and one signed-in user per role in each."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar import Litestar
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from api.app import create_app
from disclosure import logs
from disclosure.access import ROLES
from disclosure.settings import Settings
from disclosure.users import LoginPolicy, Users
from disclosure.workflow import Workflow

OWN = "derbyshire"
OTHER = "durham"
PASSWORD = "correct horse battery staple"
BASE_URL = "https://disclosure.test"
# Real argon2id, with lighter parameters than production so that seeding many users is quick.
TEST_HASHER = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))


def settings_for(workflow: Workflow, **overrides: Any) -> Settings:
    return Settings(database_url="sqlite+aiosqlite:///unused.db", cookie_secure=True, **overrides)


@dataclass
class People:
    """Seeded users: `token[(role, area)]` is a live bearer token for that role in that area."""

    users: Users
    token: dict[tuple[str, str], str] = field(default_factory=dict)

    def username(self, role: str, area: str = OWN) -> str:
        return f"{role}.{area}"

    def bearer(self, role: str, area: str = OWN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token[(role, area)]}"}


@pytest.fixture
async def people(workflow: Workflow) -> People:
    users = Users(workflow.db, now=workflow.now, policy=LoginPolicy(), hasher=TEST_HASHER)
    await users.add_area(OWN, name="Derbyshire Constabulary", divisions=["north", "south"])
    await users.add_area(OTHER, name="Durham Constabulary", divisions=["north"])
    found = People(users)
    for area in (OWN, OTHER):
        for role in ROLES:
            await users.add(found.username(role, area), password=PASSWORD, area=area,
                            roles=[role], created_by="test")
            found.token[(role, area)] = (await users.issue(found.username(role, area))).secret
    return found


def client_for(app: Litestar) -> httpx.AsyncClient:
    # In the test's own event loop, so that the app and the test share the database pool.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


@pytest.fixture
def app(workflow: Workflow) -> Litestar:
    return create_app(settings_for(workflow, login_source_limit=10_000), workflow)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as test_client:
        yield test_client


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the service writes to its log stream while the test runs."""
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == logs.HANDLER_NAME]
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)
