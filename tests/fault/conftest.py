"""Real servers and real databases, broken on purpose, all on 127.0.0.1.

Each fault test starts `disclosure serve` as a subprocess on a spare port, drives it over HTTP,
and reports its figures (sent, acknowledged, lost, duplicated, ...) as test properties, which
the terminal summary prints whether or not output is captured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from _pytest.terminal import TerminalReporter

from disclosure.db import Database
from disclosure.migrations import upgrade
from disclosure.policy import load_policy_book
from disclosure.users import LoginPolicy, Users
from disclosure.workflow import Workflow
from tests.api.conftest import TEST_HASHER
from tests.conftest import _require_postgres, scratch_database

AREA = "derbyshire"
OFFICER = "officer.fault"
FIGURES = "fault figures"
START_SECONDS = 30.0


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """One `disclosure serve` process on 127.0.0.1."""

    database_url: str
    log: Path
    port: int = field(default_factory=spare_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ, "DISCLOSURE_DATABASE_URL": self.database_url,
            "DISCLOSURE_LOG_LEVEL": "WARNING", "DISCLOSURE_COOKIE_SECURE": "0",
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "disclosure"), "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--no-migrate"],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not start in {START_SECONDS:g}s")

    def warnings(self) -> list[str]:
        """The server's warnings and errors so far, for a failing assertion to show."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [line for line in lines if '"level": "info"' not in line][-20:]

    def kill(self) -> None:
        """kill -9: no shutdown, no flushing, no goodbye."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    """Servers a test starts; every one is stopped at the end, whatever happened."""
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def serve(servers: list[Server], database_url: str, log_dir: Path) -> Server:
    server = Server(database_url, log_dir / f"server-{len(servers)}.log")
    servers.append(server)
    server.start()
    return server


@dataclass
class Seeded:
    workflow: Workflow
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def seed(database_url: str) -> Seeded:
    """The schema, an area and an officer with a bearer token."""
    await asyncio.to_thread(upgrade, database_url)
    workflow = Workflow(Database(database_url), load_policy_book(None))
    users = Users(workflow.db, policy=LoginPolicy(), hasher=TEST_HASHER)
    await users.add_area(AREA, name="Derbyshire Constabulary", divisions=["north"])
    await users.add(OFFICER, password="fault test passphrase", area=AREA,
                    roles=["disclosure_officer"], created_by="test")
    return Seeded(workflow, (await users.issue(OFFICER)).secret)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one fault test."""
    with scratch_database(_require_postgres(), "disclosure_fault") as url:
        yield url


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster (as scripts/postgres makes) that a test may stop."""

    data: Path
    port: int = field(default_factory=spare_port)

    @staticmethod
    def _bin(tool: str) -> str:
        found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"))
        if found:
            return str(found[-1])
        on_path = shutil.which(tool)
        if on_path is None:
            pytest.fail(f"{tool} not found: install postgresql")
        return on_path

    def _as_owner(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, command, done.stdout,
                                                done.stderr)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        if os.geteuid() == 0:
            for folder in (self.data.parent, self.data):
                shutil.chown(folder, "postgres", "postgres")
        self._as_owner(self._bin("initdb"), "-D", str(self.data), "-U", "postgres",
                       "--auth=trust", "--no-sync")

    def start(self) -> None:
        self._as_owner(self._bin("pg_ctl"), "-D", str(self.data), "-l",
                       str(self.data / "server.log"), "-w", "-t", "30", "-o",
                       f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}", "start")

    def stop(self, mode: str = "fast") -> None:
        self._as_owner(self._bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Outside pytest's tmp_path: the cluster's owner must be able to reach its folder.
    data = Path(tempfile.mkdtemp(prefix="disclosure-fault-pg-"))
    found = Cluster(data / "data")
    found.data.mkdir()
    found.init()
    found.start()
    try:
        yield found
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            found.stop("immediate")
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class Figures:
    """What a fault test sent and what came of it; printed in the terminal summary."""

    record: Any
    counts: dict[str, int] = field(default_factory=dict)

    def __setitem__(self, name: str, value: int) -> None:
        self.counts[name] = value
        self.record(FIGURES, dict(self.counts))

    def __getitem__(self, name: str) -> int:
        return self.counts.get(name, 0)

    def add(self, name: str, by: int = 1) -> None:
        self[name] = self[name] + by


@pytest.fixture
def figures(record_property: Any) -> Figures:
    return Figures(record_property)


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    rows = []
    for status in ("passed", "failed"):
        for report in terminalreporter.stats.get(status, []):
            if getattr(report, "when", "") != "call":
                continue
            recorded = [c for n, c in getattr(report, "user_properties", []) if n == FIGURES]
            if recorded:
                # Each figure is recorded as it is known; the last record holds them all.
                rows.append((report.nodeid.split("::")[-1], status, recorded[-1]))
    if not rows:
        return
    terminalreporter.write_sep("=", "fault tests: figures")
    for test, status, counts in rows:
        figures = ", ".join(f"{key} {value}" for key, value in counts.items())
        terminalreporter.write_line(f"{test} ({status}): {figures}")
