"""The public application form: a member of the public applies online (with the keyboard
alone), the confirmation says nothing of any request, and the application is on the officer's
queue."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Checked
from tests.e2e.steps import field_id

APPLICANT = "Rowena Kettleby"

pytestmark = pytest.mark.browser


def tab_to(page: Any, selector: str, presses: int = 80) -> None:
    """Press Tab until the element is focused: it must be reachable by keyboard, in order."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} was never reached with the Tab key")


def test_a_member_of_the_public_applies_online_with_the_keyboard_alone(
    anonymous: Checked, sign_in: Callable[[str], Checked],
) -> None:
    page = anonymous.page
    page.goto("/apply")
    anonymous.check("apply")
    # The first stop is the skip link, then the quick exit.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to main content"
    tab_to(page, ".govuk-exit-this-page__button")

    def radio(path: str, value: str) -> None:
        # Into the group with Tab, along it with the arrow keys (which also select).
        tab_to(page, f"input[name='{path}']")
        for _ in range(10):
            if page.evaluate("document.activeElement.value") == value:
                break
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Space")
        assert page.locator(f"input[name='{path}'][value='{value}']").is_checked()

    def text(path: str, value: str) -> None:
        tab_to(page, field_id(path))
        page.keyboard.type(value)

    radio("area", "derbyshire")
    radio("scheme", "dvds")
    radio("asking_for_yourself", "false")
    text("your_name", APPLICANT)
    radio("contact_method", "email")
    text("contact_details", "r.kettleby@example.org")
    text("safe_times", "weekday mornings")
    text("never_use", "never phone")
    text("person_at_risk_name", "Tamsin Kettleby")
    text("relationship", "I am her sister")
    text("subject_name", "Victor Pell")
    text("concern", "He has hurt a previous partner, I have heard.")
    tab_to(page, "button.govuk-button:not(.govuk-exit-this-page__button)")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/apply/received$"))
    anonymous.check("apply-received")
    # Nothing about this or any other request: no reference, no name.
    content = page.content()
    assert not re.search(r"[A-Z]{4,5}-\d{4}-\d{6}", content)
    assert APPLICANT not in content and "Victor" not in content

    officer = sign_in("officer")
    page = officer.page
    page.goto("/queue?state=received&scheme=dvds")
    page.get_by_label("Search by name").fill(APPLICANT)
    page.get_by_role("button", name="Search").click()
    hit = page.locator("table a").first
    reference = hit.inner_text()
    hit.click()
    page.wait_for_url(re.compile(rf".*/requests/{reference}$"))
    assert "Online" in page.content() and "r.kettleby@example.org" in page.content()
    officer.check("case-online")
    page.goto("/queue?state=received")
    assert page.get_by_role("link", name=reference).is_visible()


def test_the_public_form_shows_its_errors_on_the_fields(anonymous: Checked) -> None:
    page = anonymous.page
    page.goto("/apply")
    page.get_by_role("button", name="Send application").click()
    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert "Your full name" in summary.inner_text()
    assert page.locator(f"{field_id('your_name')}.govuk-input--error").count() == 1
    anonymous.check("apply-errors")
