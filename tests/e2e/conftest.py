"""Browser tests: one real server for the session, seeded through the services, and Chromium
driven by Playwright. Every page a test visits is checked with axe-core (from its npm package)
against WCAG 2.2 AA and saved as a screenshot under artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
OWN = "derbyshire"
OTHER = "durham"
PASSWORD = "e2e passphrase for the browser tests"
# axe-core's rule tags for WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
USERS = {
    "officer": (OWN, ["disclosure_officer"], "PC Jones"),
    "officer2": (OWN, ["disclosure_officer"], "PC Bright"),
    "decider": (OWN, ["decision_maker"], "DI Khan"),
    "coordinator": (OWN, ["mapp_coordinator"], "Sam Cole"),
    "smb": (OWN, ["smb_member"], "Pat Board"),
    "auditor": (OWN, ["auditor"], "Alex Reid"),
    "admin": (OWN, ["admin"], "Lee Admin"),
    "stranger": (OTHER, ["disclosure_officer"], "PC Far"),
}



def _need_browser() -> None:
    problems = []
    if not Path(CHROMIUM).exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    if not AXE.exists():
        problems.append(f"{AXE} is missing (npm ci)")
    if problems:
        if IN_CI:
            pytest.fail("; ".join(problems))
        pytest.skip("; ".join(problems))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    database_url: str
    log: Path
    references: dict[str, str] = field(default_factory=dict)


async def _seed(database_url: str) -> None:
    from disclosure.db import Database
    from disclosure.users import Users

    db = Database(database_url)
    try:
        users = Users(db)
        await users.add_area(OWN, name="Derbyshire Constabulary", divisions=["north", "south"])
        await users.add_area(OTHER, name="Durham Constabulary", divisions=["east"])
        for username, (area, roles, name) in USERS.items():
            await users.add(username, password=PASSWORD, area=area, roles=roles,
                            created_by="e2e", display_name=name)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, trail_key_file: Path) -> Iterator[Server]:
    _need_browser()
    folder = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite+aiosqlite:///{folder / 'e2e.db'}"
    port = _free_port()
    log = folder / "server.log"
    env = {
        **os.environ, "DISCLOSURE_DATABASE_URL": database_url, "DISCLOSURE_JOBS_MINUTES": "0",
        "DISCLOSURE_TRAIL_KEY_FILE": str(trail_key_file),
        "DISCLOSURE_ONLINE_PER_SOURCE_PER_HOUR": "20",
    }
    subprocess.run([sys.executable, "-m", "disclosure.cli", "db", "upgrade"], env=env,
                   check=True, capture_output=True)
    os.environ["DISCLOSURE_DATABASE_URL"] = database_url
    asyncio.run(_seed(database_url))
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "disclosure.cli", "serve", "--no-migrate", "--host",
             "127.0.0.1", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    base_url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield Server(base_url=base_url, database_url=database_url, log=log)
    finally:
        process.terminate()
        process.wait(timeout=20)
        os.environ.pop("DISCLOSURE_DATABASE_URL", None)


@pytest.fixture(scope="package")
def browser(server: Server) -> Iterator[Any]:
    """Chromium for the browser tests only: the driver runs an event loop in this thread
    while it is open, which the async tests after these must not find."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


class Checked:
    """A page whose every visited state is checked: no WCAG 2.2 AA violation, no script or
    style refused by the CSP, and a screenshot kept."""

    def __init__(self, page: Any, who: str) -> None:
        self.page = page
        self.who = who
        self.refused: list[str] = []
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.refused.append(message.text)

    def check(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        # Injected through the DevTools protocol, which the page's CSP does not govern.
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(AXE.read_text())
        result = page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
            WCAG_AA,
        )
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        violations = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:3])
            for v in result["violations"]
        ]
        assert not violations, f"{name}: axe found\n" + "\n".join(violations)
        assert not self.refused, f"{name}: the CSP refused\n" + "\n".join(self.refused)


@pytest.fixture
def sign_in(browser: Any, server: Server) -> Iterator[Callable[[str], Checked]]:
    """A fresh browser context signed in as one of the seeded users."""
    contexts: list[Any] = []

    def open_as(who: str) -> Checked:
        context = browser.new_context(base_url=server.base_url, accept_downloads=True,
                                      viewport={"width": 1280, "height": 900})
        contexts.append(context)
        checked = Checked(context.new_page(), who)
        checked.page.goto("/sign-in")
        checked.page.get_by_label("Username").fill(who)
        checked.page.get_by_label("Password").fill(PASSWORD)
        checked.page.get_by_role("button", name="Sign in").click()
        checked.page.wait_for_url(re.compile(r"^(?!.*/sign-in).*$"))
        return checked

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def anonymous(browser: Any, server: Server) -> Iterator[Checked]:
    context = browser.new_context(base_url=server.base_url,
                                  viewport={"width": 1280, "height": 900})
    yield Checked(context.new_page(), "public")
    context.close()
