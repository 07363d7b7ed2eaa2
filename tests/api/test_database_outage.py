"""A database that goes away: the API answers 503 with Retry-After, and recovers when it is back."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from disclosure.db import Database
from disclosure.migrations import upgrade
from disclosure.policy import load_policy_book
from disclosure.settings import Settings
from disclosure.users import Users
from disclosure.workflow import Workflow
from tests.api.conftest import PASSWORD, TEST_HASHER, client_for
from tests.conftest import IN_CI

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres"


class Cluster:
    """A throwaway PostgreSQL cluster of the test's own, run by scripts/postgres."""

    def __init__(self) -> None:
        self.data = tempfile.mkdtemp(prefix="disclosure-pg-outage-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {**os.environ, "DISCLOSURE_PG_DATA": self.data}
        self.url = ""

    def start(self) -> str:
        done = subprocess.run([str(SCRIPT), str(self.port)], env=self.env, capture_output=True,
                              text=True, timeout=180, check=True)
        return done.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        subprocess.run([str(SCRIPT), "stop"], env=self.env, capture_output=True, timeout=60,
                       check=False)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and not IN_CI:
        pytest.skip("PostgreSQL server binaries are not installed")
    found = Cluster()
    try:
        found.url = found.start()
        upgrade(found.url)
        yield found
    finally:
        found.stop()
        shutil.rmtree(found.data, ignore_errors=True)


@pytest.mark.postgres
async def test_an_outage_answers_503_with_retry_after_and_recovers(cluster: Cluster) -> None:
    url = cluster.url
    workflow = Workflow(Database(url), load_policy_book(None))
    users = Users(workflow.db, hasher=TEST_HASHER)
    await users.add_area("derbyshire", name="Derbyshire Constabulary", divisions=["north"])
    await users.add("pc.jones", password=PASSWORD, area="derbyshire",
                    roles=["disclosure_officer"], created_by="test")
    bearer = {"Authorization": f"Bearer {(await users.issue('pc.jones')).secret}"}
    app = create_app(Settings(database_url=url), workflow)
    try:
        async with client_for(app) as client:
            assert (await client.get("/api/requests", headers=bearer)).status_code == 200
            cluster.stop()
            for answer in (
                await client.get("/api/requests", headers=bearer),
                await client.post("/api/tokens",
                                  json={"username": "pc.jones", "password": PASSWORD}),
            ):
                assert answer.status_code == 503, answer.text
                assert int(answer.headers["Retry-After"]) > 0
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.headers["X-Content-Type-Options"] == "nosniff"
            cluster.start()
            assert (await client.get("/api/requests", headers=bearer)).status_code == 200
    finally:
        await workflow.db.dispose()
