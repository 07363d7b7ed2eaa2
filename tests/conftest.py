"""Fixtures: a migrated database per backend, a settable clock, and the workflow over them."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from disclosure.db import Database
from disclosure.keys import create_trail_key_file
from disclosure.migrations import upgrade
from disclosure.models import Base
from disclosure.policy import load_policy_book
from disclosure.workflow import Workflow

IN_CI = os.environ.get("CI") == "true"
POSTGRES_URL = os.environ.get("DISCLOSURE_TEST_POSTGRES_URL", "")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def _require_postgres() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if IN_CI:
        pytest.fail("DISCLOSURE_TEST_POSTGRES_URL is not set, and CI must run the PostgreSQL tests")
    pytest.skip("DISCLOSURE_TEST_POSTGRES_URL not set")


@pytest.fixture(scope="session", autouse=True)
def trail_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The trail's key for the run, outside every database, as production configures it."""
    path = tmp_path_factory.mktemp("keys") / "trail.key"
    create_trail_key_file(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISCLOSURE_TRAIL_KEY_FILE", str(path))
        yield path


@contextmanager
def scratch_database(server_url: str, prefix: str = "disclosure_test") -> Iterator[str]:
    """A new, empty database on the PostgreSQL server at `server_url`, dropped afterwards."""
    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run, migrated to head."""
    with scratch_database(_require_postgres()) as url:
        upgrade(url)
        yield url


def _truncate(url: str) -> None:
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'disclosure.db'}"
        upgrade(url)
        return url
    url: str = request.getfixturevalue("postgres_database")
    _truncate(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 2, 12, 0, tzinfo=UTC))


@pytest.fixture
async def workflow(database_url: str, clock: FakeClock) -> AsyncIterator[Workflow]:
    service = Workflow(Database(database_url), load_policy_book(None), now=clock)
    yield service
    await service.db.dispose()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """In CI a skipped test is a failed one: every suite must really run there."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"
