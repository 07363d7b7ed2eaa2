"""What the browser tests do again and again: find a field by its payload path, open an
action's form and send it, and seed a request through the services."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec

from disclosure.db import Database
from disclosure.mapp.nominals import Nominals
from disclosure.mapp.schemas import NewNominal
from disclosure.policy import load_policy_book
from disclosure.schemas import PAYLOADS, NewRequest
from disclosure.workflow import Workflow
from tests import factories
from tests.e2e.conftest import OWN, Checked

T = TypeVar("T")
# The events that take a new right-to-ask request to each state, and who sends them.
WALK = ("complete_initial_checks", "record_meeting", "record_check", "complete_checks")
STATE_AFTER = {"received": 0, "awaiting_meeting": 1, "checks": 2, "awaiting_decision": 4}


def field_id(path: str, form: str = "") -> str:
    """The CSS selector of the input for a payload path in a form, as the pages name it."""
    return "#f-" + re.sub(r"[^A-Za-z0-9]+", "-", f"{form} {path}").strip("-")


class Filler:
    """Answers the questions of one form on a page, found by their payload paths."""

    def __init__(self, page: Any, form: str = "") -> None:
        self.page = page
        self.form = form
        self.scope = page.locator(f"#action-{form}") if form else page.locator("main form")

    def id(self, path: str) -> str:
        return field_id(path, self.form)

    def fill(self, path: str, value: str) -> None:
        self.page.fill(self.id(path), value)

    def choose(self, path: str, value: str) -> None:
        """Pick an option by its value (the code), whether asked with radios or a select."""
        select = self.scope.locator(f"select[name='{path}']")
        if select.count():
            select.select_option(value)
        else:
            self.scope.locator(f"input[type=radio][name='{path}'][value='{value}']").check()

    def select(self, path: str, label: str) -> None:
        """Pick an option by its words, from radios or a select."""
        select = self.scope.locator(f"select[name='{path}']")
        if select.count():
            select.select_option(label=label)
        else:
            self.scope.locator(f".govuk-radios__item:has(input[name='{path}'])").filter(
                has_text=label).locator("input").check()

    def tick(self, path: str, value: str) -> None:
        self.scope.locator(f"input[type=checkbox][name='{path}'][value='{value}']").check()

    def date(self, path: str, day: int, month: int, year: int, time: str | None = None) -> None:
        for part, value in (("day", day), ("month", month), ("year", year)):
            self.page.fill(f"{self.id(path)}-{part}", str(value))
        if time is not None:
            self.page.fill(f"{self.id(path)}-time", time)

    def submit(self) -> None:
        self.scope.locator("button[type=submit]:not([name])").last.click()


def open_action(page: Any, event: str) -> Filler:
    details = page.locator(f"#action-{event}")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return Filler(page, event)


def send_action(checked: Checked, event: str, fill: Callable[[Filler], Any], *,
                expect_error: bool = False, done: str | None = None) -> None:
    """Open an action's form, answer it and send it; by default it must be saved, the page
    coming back with `done` in its address (a case page says which event was done)."""
    page = checked.page
    form = open_action(page, event)
    fill(form)
    form.submit()
    if expect_error:
        page.locator(".govuk-error-summary").wait_for()
        return
    page.wait_for_url(re.compile(done or rf".*done={event}$"))
    assert page.locator(".govuk-error-summary").count() == 0


def seed_request(*, to: str, subject: str | None = None, area: str = OWN,
                 received: datetime | None = None) -> str:
    """A right-to-ask request received three days ago (or when given) and walked to `to` by
    officer2."""

    async def walk() -> str:
        workflow = Workflow(Database(os.environ["DISCLOSURE_DATABASE_URL"]),
                            load_policy_book(None))
        try:
            nonlocal received
            received = received or datetime.now(UTC) - timedelta(days=3)
            body = factories.new_request(area=area, received_at=received.isoformat())
            if subject is not None:
                body["parties"][0]["name"] = subject
            view = await workflow.create(msgspec.convert(body, NewRequest),
                                         actor="officer2")
            for step, event in enumerate(WALK[:STATE_AFTER[to]], start=1):
                at = (received + timedelta(hours=step)).isoformat()
                times = {"held_at": at} if event == "record_meeting" else (
                    {"checked_at": at} if event == "record_check" else {"occurred_at": at})
                payload = msgspec.convert(factories.body(event, **times), PAYLOADS[event])
                await workflow.apply(view.reference, payload, actor="officer2",
                                     expected_version=step, area=area,
                                     roles=frozenset({"disclosure_officer"}))
            return view.reference
        finally:
            await workflow.db.dispose()

    return run(walk())


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run service calls from a test: in a thread of their own, as the browser's driver holds
    this thread's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def seed_nominal(reference: str, *, area: str = OWN) -> int:
    """A Level 3 nominal in the community, managed for a year."""

    async def register() -> int:
        workflow = Workflow(Database(os.environ["DISCLOSURE_DATABASE_URL"]),
                            load_policy_book(None))
        try:
            body = factories.new_nominal(
                area=area, reference=reference,
                managed_from=(datetime.now(UTC) - timedelta(days=365)).isoformat())
            view = await Nominals(workflow).register(msgspec.convert(body, NewNominal),
                                                     actor="coordinator")
            return view.id
        finally:
            await workflow.db.dispose()

    return run(register())
