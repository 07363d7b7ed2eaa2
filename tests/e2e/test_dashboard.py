"""An SMB member opens the dashboard for the last financial year, downloads the CSV and the
ODS, and draws a sample of decisions for review."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import Checked
from tests.e2e.steps import Filler, seed_request

pytestmark = pytest.mark.browser


def test_an_smb_member_opens_the_last_financial_year_and_downloads_csv_and_ods(
    sign_in: Callable[[str], Checked],
) -> None:
    for day in (2, 9, 16):
        seed_request(to="checks", received=datetime(2025, 6, day, 10, tzinfo=UTC))
    board = sign_in("smb")
    page = board.page
    page.get_by_role("link", name="Dashboard").first.click()
    page.get_by_role("heading", name="Dashboard: 2025-26").wait_for()
    assert page.locator("table.govuk-table").count() >= 3
    assert page.locator("canvas[role=img]").count() >= 1
    # Each chart sets the period beside the one before, as its table does.
    page.wait_for_function("() => typeof Chart !== 'undefined'"
                           " && Chart.getChart('chart-dvds_return') !== undefined")
    drawn = page.evaluate("() => Chart.getChart('chart-dvds_return').data.datasets"
                          ".map(d => [d.label, d.data])")
    assert [label for label, _ in drawn] == ["Applications 2025-26", "Applications 2024-25"]
    assert drawn[0][1][0] == 3 and drawn[1][1][0] == 0
    assert page.locator("#table-dvds_return + .app-chart + table th").filter(
        has_text="Applications 2024-25").count() == 1
    board.check("dashboard")

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Every table as CSV").click()
    csv = Path(csv_download.value.path()).read_text()
    assert csv_download.value.suggested_filename.endswith("2025-26.csv")
    assert csv.count("\n") > 5 and "," in csv.splitlines()[0]
    with page.expect_download() as ods_download:
        page.get_by_role("link", name="Every table as an ODS spreadsheet").click()
    ods = Path(ods_download.value.path()).read_bytes()
    assert ods_download.value.suggested_filename.endswith("2025-26.ods")
    assert ods[:2] == b"PK" and b"application/vnd.oasis.opendocument.spreadsheet" in ods[:100]

    page.get_by_role("link", name="The printable annual report").click()
    page.get_by_role("heading", name=re.compile(r"annual report 2025-26$")).wait_for()
    # Styled by its own stylesheet, which the page's policy allows by its hash.
    assert page.locator("header").evaluate(
        "h => getComputedStyle(h).borderBottomStyle") == "solid"
    board.check("annual-report")
    page.go_back()
    page.get_by_role("heading", name="Dashboard: 2025-26").wait_for()

    page.locator("#period").select_option("2025-26-Q1")
    page.get_by_role("button", name="Show this period").click()
    page.get_by_role("heading", name="Dashboard: 2025-26-Q1").wait_for()
    board.check("dashboard-quarter")

    form = Filler(page, "draw")
    form.fill("period", "2025-26")
    form.fill("seed", "7")
    page.get_by_role("button", name="Draw a sample").click()
    page.wait_for_url(re.compile(r".*/dashboard/reviews/\d+$"))
    page.get_by_role("heading", name=re.compile(r"Review \d+")).wait_for()
    board.check("review")
