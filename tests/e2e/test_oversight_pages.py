"""The auditor's, the administrator's and everyone's pages, each checked in the browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.e2e.conftest import Checked
from tests.e2e.steps import seed_request

pytestmark = pytest.mark.browser


def test_an_auditor_verifies_the_trail_and_sees_who_viewed_a_request(
    sign_in: Callable[[str], Checked],
) -> None:
    reference = seed_request(to="checks")
    officer = sign_in("officer")
    officer.page.goto(f"/requests/{reference}")
    auditor = sign_in("auditor")
    page = auditor.page
    page.goto("/audit")
    auditor.check("audit")
    page.get_by_role("button", name="Verify the trail now").click()
    page.get_by_text("The trail verifies").wait_for()
    auditor.check("audit-verified")
    page.get_by_label("Reference").fill(reference)
    page.get_by_role("button", name="Show who viewed it").click()
    page.get_by_role("heading", name=f"Who viewed {reference}").wait_for()
    assert page.get_by_role("cell", name="page_case").first.is_visible()
    auditor.check("audit-views")
    page.get_by_role("link", name="Back to audit").click()
    page.get_by_role("link", name="The search log").click()
    page.get_by_role("heading", name="Search log").wait_for()
    auditor.check("audit-searches")


def test_an_administrator_sees_areas_divisions_and_accounts(
    sign_in: Callable[[str], Checked],
) -> None:
    admin = sign_in("admin")
    page = admin.page
    page.goto("/admin")
    assert page.get_by_role("cell", name="Derbyshire Constabulary").is_visible()
    admin.check("admin")
    page.get_by_label("Add a division to derbyshire").fill("Not a code!")
    page.get_by_role("button", name="Add division").click()
    page.locator(".govuk-error-summary").wait_for()
    admin.check("admin-error")
    page.get_by_label("Code", exact=True).fill("West Yorkshire!")
    page.get_by_role("button", name="Add area").click()
    page.locator(".govuk-error-summary").wait_for()
    assert page.locator("#area-name-error").is_visible()
    admin.check("admin-area-error")
    page.get_by_label("Code", exact=True).fill("west_yorkshire")
    page.get_by_label("Name", exact=True).fill("West Yorkshire Police")
    page.get_by_label("Divisions (optional)").fill("leeds, bradford")
    page.get_by_role("button", name="Add area").click()
    page.wait_for_url(re.compile(r".*/admin$"))
    row = page.locator("tr", has_text="West Yorkshire Police")
    assert "bradford, leeds" in row.inner_text() or "leeds, bradford" in row.inner_text()
    admin.check("admin-area-added")


def test_the_lifecycle_diagrams(sign_in: Callable[[str], Checked]) -> None:
    board = sign_in("smb")
    board.page.goto("/lifecycle")
    assert board.page.locator("svg").count() == 2
    board.check("lifecycle")
