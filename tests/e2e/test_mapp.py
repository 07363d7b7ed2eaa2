"""A MAPP coordinator logs a Level 3 meeting that agrees a disclosure, and delivers it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.e2e.conftest import Checked
from tests.e2e.steps import Filler, seed_nominal, send_action

pytestmark = pytest.mark.browser

RECIPIENT = "Lisa Grant"
WORDING = "Darren Cole has convictions for sexual offences against children."


def test_a_coordinator_logs_a_level_3_meeting_that_agrees_a_disclosure_and_delivers_it(
    sign_in: Callable[[str], Checked],
) -> None:
    nominal = seed_nominal("VISOR-E2E-0001")
    coordinator = sign_in("coordinator")
    page = coordinator.page
    page.get_by_role("link", name="MAPP").first.click()
    page.get_by_role("heading", name="MAPP panels").wait_for()
    coordinator.check("mapp")
    page.get_by_role("link", name="VISOR-E2E-0001").click()
    page.wait_for_url(re.compile(rf".*/mapp/nominals/{nominal}$"))
    coordinator.check("nominal")
    page.get_by_role("button", name="Record a meeting").click()
    form = Filler(page)
    form.choose("kind", "review")
    form.date("held_at", 1, 11, 2026, "10:00")
    form.fill("chair", "Ch Supt Ann Ward")
    form.choose("chair_rank", "chief_superintendent")
    form.fill("attendees[0].name", "DS Kay Lowe")
    form.choose("attendees[0].agency", "police")
    page.get_by_role("button", name="Add another attendee").click()
    form.fill("attendees[1].name", "Sam Reid")
    form.choose("attendees[1].agency", "probation")
    form.choose("confidentiality_statement_read", "true")
    coordinator.check("meeting-new")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/mapp/meetings/\d+$"))
    assert page.get_by_role("cell", name="Sam Reid").is_visible()
    coordinator.check("meeting-draft")

    def consider(f: Filler) -> None:
        f.choose("decision", "disclose")
        f.choose("representations_sought", "false")
        f.fill("representations_not_sought_reason", "Seeking them would warn him of the disclosure")
        f.choose("disclosures[0].scheme", "mappa")
        f.fill("disclosures[0].recipients[0].name", RECIPIENT)
        f.choose("disclosures[0].recipients[0].relationship_code", "partner")
        f.fill("disclosures[0].recipients[0].rationale", "She lives with him and has two children")
        f.fill("disclosures[0].recipients[0].wording", WORDING)
        f.fill("disclosures[0].recipients[0].deliverer", "DS Kay Lowe")
        f.choose("disclosures[0].recipients[0].deliverer_agency", "police")
        f.choose("disclosures[0].recipients[0].method", "in_person")
        f.date("disclosures[0].recipients[0].deliver_by", 1, 1, 2099, "17:00")
        for part in ("lawful", "pressing_need", "necessary", "proportionate"):
            f.choose(f"disclosures[0].legal_test.{part}.met", "true")
            f.fill(f"disclosures[0].legal_test.{part}.rationale", f"The {part} test is met")
        f.choose("disclosures[0].legal_test.data_protection_considered", "true")
        f.choose("disclosures[0].legal_test.rehabilitation_of_offenders_considered", "true")

    send_action(coordinator, "record_consideration", consider)
    coordinator.check("meeting-considered")
    link = page.locator("a[href^='/requests/MAPPA-']").first
    reference = link.inner_text()
    send_action(coordinator, "finalise", lambda f: None)
    assert "Finalised" in page.locator("h1 + p").inner_text()
    coordinator.check("meeting-finalised")

    page.get_by_role("link", name=reference).click()
    page.wait_for_url(re.compile(rf".*/requests/{reference}$"))
    assert "Awaiting delivery" in page.locator("h1 + p").inner_text()
    assert page.get_by_role("link", name=re.compile(r"MAPP meeting \d+")).is_visible()
    coordinator.check("case-mappa-agreed")
    send_action(coordinator, "record_delivery", lambda f: (
        f.fill("location", "Her home, with a social worker"),
        f.select("recipient_party_id", f"{RECIPIENT} (recipient)"),
        f.fill("words_used", WORDING),
        f.choose("confidentiality_explained", "true"),
        f.choose("undertaking", "signed"),
        f.choose("safety_plan_made", "true"),
    ))
    heading = page.locator("h1 + p").inner_text()
    assert "Closed" in heading and "disclosed to other" in heading
    coordinator.check("case-mappa-delivered")
