"""Casework in a real browser: an application entered by an officer and walked to the
decision; the decision, the delivery and the notice; the stale form; another area's officer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, SCREENSHOTS, Checked, Server
from tests.e2e.steps import Filler, open_action, seed_request, send_action

AT_RISK = "Amy Sample (person at risk)"
WORDING = "Mark Sample has a conviction for assault."

pytestmark = pytest.mark.browser


def state_of(checked: Checked) -> str:
    return str(checked.page.locator("h1 + p").inner_text())


def test_officer_records_a_third_party_application_and_walks_it_to_the_decision(
    sign_in: Callable[[str], Checked],
) -> None:
    officer = sign_in("officer")
    page = officer.page
    officer.check("queue")
    page.get_by_role("link", name="New application").click()
    officer.check("new-application")
    form = Filler(page)
    form.choose("scheme", "dvds")
    form.choose("division", "north")
    form.choose("channel", "telephone")
    form.fill("summary", "Mother worried about her daughter's new partner")
    form.choose("immediate_risk", "false")
    form.fill("parties[0].name", "Susan Walker")
    form.fill("parties[0].relationship", "mother of the person at risk")
    form.choose("parties[0].relationship_code", "parent")
    form.choose("parties[0].safe_contact.method", "phone")
    form.fill("parties[0].safe_contact.details", "07700 900461")
    form.fill("parties[0].safe_contact.times", "weekdays after 6pm")
    form.fill("parties[0].safe_contact.notes", "never the landline")
    form.fill("parties[1].name", "Emma Walker")
    form.fill("parties[2].name", "Daniel Price")
    # With JavaScript the duplicates come into the page in place, the focus on their heading:
    # the page is not loaded again.
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Check for possible duplicates").click()
    page.get_by_role("heading", name="Possible duplicates").wait_for()
    assert page.evaluate("window.notReloaded === true")
    # The focus moves once htmx has settled the swap, a moment after the heading appears.
    expect(page.locator("#duplicates")).to_be_focused()
    officer.check("new-application-duplicates")
    page.get_by_role("button", name="Save application").click()
    page.wait_for_url(re.compile(r".*/requests/DVDS-\d{4}-\d{6}$"))
    officer.check("case-received")
    assert page.get_by_text("Susan Walker").first.is_visible()
    assert page.get_by_text("never the landline").is_visible()

    send_action(officer, "complete_initial_checks", lambda f: (
        f.choose("finding", "in_scope"), f.choose("immediate_risk", "false")))
    send_action(officer, "record_meeting", lambda f: (
        f.choose("identity_verified", "true"), f.tick("documents_seen", "passport")))
    send_action(officer, "record_check", lambda f: (
        f.choose("source", "pnc"), f.choose("information_held", "true"),
        f.fill("summary", "Conviction for assault on a former partner (2019)")))
    officer.check("case-checks")
    send_action(officer, "complete_checks", lambda f: f.fill(
        "summary", "PNC, PND and local records checked"))
    assert "Awaiting decision" in state_of(officer)
    # An officer cannot decide: no decision form is offered.
    assert page.locator("#action-record_decision").count() == 0
    assert page.get_by_text("Conviction for assault on a former partner (2019)").is_visible()
    officer.check("case-awaiting-decision")


def _decide(f: Filler) -> None:
    f.choose("forum", "dvds_panel")
    f.fill("chair", "DI Khan")
    f.choose("decision_maker_role", "inspector")
    f.choose("decision", "disclose")
    for part in ("lawful", "pressing_need", "necessary", "proportionate"):
        f.choose(f"legal_test.{part}.met", "true")
        f.fill(f"legal_test.{part}.rationale", f"The {part} test is met")
    f.choose("legal_test.data_protection_considered", "true")
    f.choose("legal_test.rehabilitation_of_offenders_considered", "true")
    f.select("recipients[0].party_id", AT_RISK)
    f.fill("recipients[0].rationale", "She is the person at risk")
    f.fill("recipients[0].discloser", "PC Jones")
    f.fill("recipients[0].method", "In person at a safe place, with an IDVA")
    f.date("recipients[0].deliver_by", 1, 1, 2099, "17:00")
    f.choose("subject_views_sought", "false")
    f.fill("subject_views_reason", "Seeking them could put her at risk")
    f.choose("subject_to_be_told", "false")


def test_a_decision_maker_decides_and_the_officer_delivers_and_gives_the_notice(
    sign_in: Callable[[str], Checked],
) -> None:
    reference = seed_request(to="awaiting_decision")
    decider = sign_in("decider")
    page = decider.page
    page.goto(f"/requests/{reference}")
    decider.check("case-awaiting-decision-decider")

    # Without the wording: the error lands on its field, and nothing is saved.
    send_action(decider, "record_decision", _decide, expect_error=True)
    summary = page.locator(".govuk-error-summary")
    assert "Exact wording to disclose" in summary.inner_text()
    summary.get_by_role("link").first.click()
    form = Filler(page, "record_decision")
    assert "#" + str(page.evaluate("document.activeElement.id")) == form.id(
        "recipients[0].wording")
    assert "Awaiting decision" in state_of(decider)
    decider.check("decision-form-error")
    form.fill("recipients[0].wording", WORDING)
    form.submit()
    page.wait_for_url(re.compile(r".*done=record_decision"))
    assert "Awaiting delivery" in state_of(decider)
    assert page.get_by_text("The pressing_need test is met").is_visible()
    decider.check("case-decided")

    officer = sign_in("officer")
    page = officer.page
    page.goto(f"/requests/{reference}")
    send_action(officer, "record_delivery", lambda f: (
        f.fill("location", "Police station, private room"),
        f.select("recipient_party_id", AT_RISK),
        f.fill("words_used", WORDING),
        f.choose("confidentiality_explained", "true"),
        f.choose("undertaking", "signed"),
        f.choose("safety_plan_made", "true"),
    ))
    assert "Awaiting notice" in state_of(officer)
    officer.check("case-delivered")
    send_action(officer, "record_notice", lambda f: (
        f.choose("method", "telephone"),
        f.choose("told", "process_ended"),
        f.choose("safety_advice_given", "true"),
        f.fill("safety_advice", "How to call 999 and the local IDVA service"),
    ))
    heading = state_of(officer)
    assert "Closed" in heading and "disclosed to person at risk" in heading
    officer.check("case-closed")


def test_a_stale_form_is_refused_with_the_current_state_and_the_entry_kept(
    sign_in: Callable[[str], Checked],
) -> None:
    reference = seed_request(to="checks")
    first = sign_in("officer")
    second = sign_in("officer2")
    for checked in (first, second):
        checked.page.goto(f"/requests/{reference}")
    send_action(first, "record_check", lambda f: (
        f.choose("source", "visor"), f.choose("information_held", "true"),
        f.fill("summary", "Registered on ViSOR since 2020")))
    page = second.page
    form = open_action(page, "record_check")
    form.choose("source", "pnd")
    form.choose("information_held", "false")
    form.fill("summary", "Nothing on PND")
    form.submit()
    page.locator(".govuk-error-summary").wait_for()
    assert "Someone else changed this request" in page.locator(".govuk-error-summary").inner_text()
    # The page shows the request as it is now, the other officer's check included.
    assert page.get_by_text("Registered on ViSOR since 2020").is_visible()
    assert page.locator(form.id("summary")).input_value() == "Nothing on PND"
    form.submit()
    page.wait_for_url(re.compile(r".*done=record_check$"))
    assert page.get_by_text("Nothing on PND").is_visible()
    second.check("case-stale")


def test_an_officer_of_another_area_cannot_open_the_case_by_url_or_by_search(
    sign_in: Callable[[str], Checked],
) -> None:
    reference = seed_request(to="received", subject="Gideon Faraway")
    stranger = sign_in("stranger")
    page = stranger.page
    answer = page.goto(f"/requests/{reference}")
    assert answer is not None and answer.status == 404
    assert "Gideon" not in page.content()
    stranger.check("case-other-area")
    page.goto("/queue")
    page.get_by_label("Search by name").fill("Gideon Faraway")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*/search\?q=.*"))
    assert reference not in page.content()
    assert "No requests in your area match" in page.content()
    stranger.check("search-other-area")


def test_duplicates_are_checked_without_javascript_too(
    browser: Any, server: Server,
) -> None:
    context = browser.new_context(base_url=server.base_url, java_script_enabled=False,
                                  viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto("/sign-in")
        page.get_by_label("Username").fill("officer")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto("/requests/new?route=right_to_ask")
        page.get_by_role("button", name="Check for possible duplicates").click()
        # The same states are checked with axe above, with JavaScript (axe needs it).
        page.locator(".govuk-error-summary").wait_for()
        page.screenshot(path=str(SCREENSHOTS / "new-application-errors-no-js.png"))
        form = Filler(page)
        form.choose("scheme", "dvds")
        form.choose("channel", "telephone")
        form.fill("summary", "Worried about a new partner")
        form.choose("immediate_risk", "false")
        form.fill("parties[0].name", "Jo Hart")
        form.fill("parties[1].name", "Jo Hart")
        form.fill("parties[2].name", "Lee Stone")
        page.get_by_role("button", name="Check for possible duplicates").click()
        page.get_by_role("heading", name="Possible duplicates").wait_for()
        assert page.locator(".govuk-error-summary").count() == 0
        page.get_by_role("button", name="Save application").click()
        page.wait_for_url(re.compile(r".*/requests/DVDS-\d{4}-\d{6}$"))
    finally:
        context.close()
