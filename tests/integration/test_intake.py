"""At intake: possible duplicates, `duplicate_of` checked, linked requests, and repeat subjects
raised for a right-to-know review, on both engines."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from disclosure.alerts.service import Alerts, RecordNoAction, StartRightToKnow
from disclosure.errors import EventNotAllowed, InvalidInput, NotFound, StaleVersion
from disclosure.schemas import NewRequest, RequestView
from disclosure.search import duplicates
from disclosure.search.matching import FindingPolicy
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.factories import new_request, payload

OFFICER = "officer.ann"


async def receive(
    workflow: Workflow, subject: str, *, born: str | None = None, at_risk: str = "Amy Sample",
    at_risk_born: str | None = None, area: str = "derbyshire",
    received_at: str = "2026-11-02T09:00:00Z",
) -> RequestView:
    body = new_request(area=area, received_at=received_at)
    body["parties"][0] |= {"name": subject, "date_of_birth": born}
    body["parties"][1] |= {"name": at_risk, "date_of_birth": at_risk_born}
    return await workflow.create(msgspec.convert(body, NewRequest), actor=OFFICER)


def dupes(view: RequestView) -> list[str]:
    return [d.reference for d in view.possible_duplicates]


async def test_a_second_application_about_the_subject_shows_the_first(
    workflow: Workflow,
) -> None:
    first = await receive(workflow, "Daniel Price", born="1985-03-12", at_risk="Emma Walker")
    assert first.possible_duplicates == []
    second = await receive(workflow, "PRICE, Danny", born="1985-03-12", at_risk="Kerry Holt")
    [found] = second.possible_duplicates
    assert (found.reference, found.state, found.role, found.name) == (
        first.reference, "received", "subject", "Daniel Price")
    assert found.received_at == first.received_at
    # And the first now shows the second.
    assert dupes(await workflow.get(first.reference)) == [second.reference]


async def test_the_same_person_at_risk_is_a_possible_duplicate(workflow: Workflow) -> None:
    first = await receive(workflow, "Mark Sample", at_risk="Zoë Smith-Jones")
    second = await receive(workflow, "Lee Other", at_risk="Zoe Smith Jones")
    assert [(d.reference, d.role) for d in second.possible_duplicates] == [
        (first.reference, "person_at_risk")]


@pytest.mark.parametrize(("name", "born", "duplicate"), [
    ("Daniel Price", "1990-07-01", False),   # the same name, born on another day: another man
    ("Daniel Prise", "1985-03-12", True),    # a misspelling, the same date of birth
    ("Daniel Prise", None, False),           # ... without it, too far to call the same man
    ("Daniel Pryce", None, True),            # sounds the same, no date of birth to tell apart
    ("Daniel Prentice", None, False),        # too far off without a date of birth
    ("Dan Price", None, True),               # a nickname
])
async def test_what_counts_as_the_same_subject(
    workflow: Workflow, name: str, born: str | None, duplicate: bool
) -> None:
    first = await receive(workflow, "Daniel Price", born="1985-03-12", at_risk="Emma Walker")
    second = await receive(workflow, name, born=born, at_risk="Kerry Holt")
    assert (dupes(second) == [first.reference]) is duplicate


async def test_a_request_shows_its_closest_duplicates_first_and_how_many_in_all(
    workflow: Workflow,
) -> None:
    """At most `SHOWN`: the same date of birth first, then the closest name, then the newest."""
    born = await receive(workflow, "Daniel Price", born="1985-03-12",
                         received_at="2026-10-01T09:00:00Z")
    same = [await receive(workflow, "Daniel Price", at_risk=f"Amy Sample{n}",
                          received_at=f"2026-10-{n + 2:02d}T09:00:00Z")
            for n in range(duplicates.SHOWN)]
    farther = await receive(workflow, "Danielle Price", at_risk="Kerry Holt",
                            received_at="2026-10-20T09:00:00Z")
    view = await receive(workflow, "PRICE, Danny", born="1985-03-12", at_risk="Holly Newcombe")
    assert dupes(view) == [born.reference, *(v.reference for v in same[:0:-1])]
    assert view.possible_duplicates_total == duplicates.SHOWN + 2
    assert farther.reference not in dupes(view)
    assert [d.similarity for d in view.possible_duplicates] == [1.0] * duplicates.SHOWN
    # Each other request once, by its closest match, however many of its parties match.
    again = await workflow.get(same[0].reference)
    assert len(set(dupes(again))) == len(dupes(again)) == duplicates.SHOWN
    assert again.possible_duplicates_total == duplicates.SHOWN + 2


async def test_another_areas_request_is_never_a_duplicate(workflow: Workflow) -> None:
    await receive(workflow, "Daniel Price", area="durham")
    assert (await receive(workflow, "Daniel Price")).possible_duplicates == []


async def _initial_checks(workflow: Workflow, view: RequestView, duplicate_of: str) -> None:
    await workflow.apply(
        view.reference,
        payload("complete_initial_checks", finding="duplicate", duplicate_of=duplicate_of),
        actor=OFFICER, expected_version=view.version,
    )


@pytest.mark.parametrize("which", ["missing", "other_area", "itself"])
async def test_duplicate_of_must_name_another_request_of_the_area(
    workflow: Workflow, which: str
) -> None:
    elsewhere = await receive(workflow, "Daniel Price", area="durham")
    view = await receive(workflow, "Daniel Price")
    target = {"missing": "DVDS-2026-009999", "other_area": elsewhere.reference,
              "itself": view.reference}[which]
    with pytest.raises(InvalidInput) as refused:
        await _initial_checks(workflow, view, target)
    assert refused.value.field == "duplicate_of"
    after = await workflow.get(view.reference)
    assert (after.state, after.version, after.links) == ("received", 1, [])


async def test_a_duplicate_is_linked_both_ways(workflow: Workflow) -> None:
    first = await receive(workflow, "Daniel Price")
    second = await receive(workflow, "Daniel Price")
    await _initial_checks(workflow, second, first.reference)
    closed = await workflow.get(second.reference)
    assert closed.outcome == "not_progressed_duplicate"
    assert [(link.kind, link.direction, link.reference) for link in closed.links] == [
        ("duplicate_of", "to", first.reference)]
    assert [(link.kind, link.direction, link.reference)
            for link in (await workflow.get(first.reference)).links] == [
        ("duplicate_of", "from", second.reference)]


async def test_a_third_woman_naming_the_subject_raises_an_alert(
    workflow: Workflow, clock: FakeClock
) -> None:
    first = await receive(workflow, "Daniel Price", at_risk="Emma Walker")
    second = await receive(workflow, "Danny Price", at_risk="Kerry Holt")
    assert first.alerts == second.alerts == []
    third = await receive(workflow, "PRICE, Daniel", at_risk="Sophie Hart")
    [alert] = third.alerts
    assert alert.state == "open" and alert.kind == "repeat_subject"
    alerts = Alerts(workflow)
    [queued] = (await alerts.list(area="derbyshire", state="open", limit=10, cursor=None)).items
    assert [r.reference for r in queued.requests] == [
        first.reference, second.reference, third.reference]
    assert queued.subject == "daniel price"
    # A fourth joins the open alert rather than raising another.
    fourth = await receive(workflow, "Daniel Price", at_risk="Amy Sample")
    assert [a.id for a in fourth.alerts] == [alert.id]
    # The other area sees none of it.
    assert (await alerts.list(area="durham", state=None, limit=10, cursor=None)).items == []


@pytest.mark.parametrize("added_to", ["newest", "oldest", "as_person_at_risk"])
async def test_a_subject_added_counts_towards_an_alert_as_if_named_at_receipt(
    workflow: Workflow, added_to: str
) -> None:
    """Added to the third request, he raises the alert its receipt would have raised; added to
    the first, the one the third's receipt would have raised, had he been named in the first."""
    late = 0 if added_to == "oldest" else 2
    views = [
        await receive(workflow, "Mark Sample" if n == late else "Daniel Price", at_risk=woman,
                      received_at=f"2026-10-0{n + 1}T09:00:00Z")
        for n, woman in enumerate(("Emma Walker", "Kerry Holt", "Sophie Hart"))
    ]
    role = "person_at_risk" if added_to == "as_person_at_risk" else "subject"
    await workflow.apply(
        views[late].reference, payload("add_party", party={"role": role, "name": "PRICE, Danny"}),
        actor=OFFICER, expected_version=views[late].version,
    )
    queued = (await Alerts(workflow).list(area="derbyshire", state="open", limit=10,
                                          cursor=None)).items
    if role != "subject":
        assert queued == []
        return
    [alert] = queued
    assert [r.reference for r in alert.requests] == [v.reference for v in views]
    assert alert.subject == "daniel price"
    for view in views:
        assert [a.id for a in (await workflow.get(view.reference)).alerts] == [alert.id]


async def test_the_same_woman_applying_three_times_raises_no_alert(workflow: Workflow) -> None:
    for _ in range(3):
        view = await receive(workflow, "Daniel Price", at_risk="Emma Walker")
    assert view.alerts == []


async def test_requests_older_than_the_window_do_not_count(workflow: Workflow) -> None:
    await receive(workflow, "Daniel Price", at_risk="Emma Walker",
                  received_at="2025-06-01T09:00:00Z")
    await receive(workflow, "Daniel Price", at_risk="Kerry Holt")
    third = await receive(workflow, "Daniel Price", at_risk="Sophie Hart")
    assert third.alerts == []


async def _alerted(workflow: Workflow) -> tuple[list[RequestView], int]:
    views = [await receive(workflow, "Daniel Price", at_risk=woman)
             for woman in ("Emma Walker", "Kerry Holt", "Sophie Hart")]
    return views, views[-1].alerts[0].id


async def test_a_review_starts_a_right_to_know_request_linked_to_all_three(
    workflow: Workflow, clock: FakeClock
) -> None:
    views, alert_id = await _alerted(workflow)
    clock.advance(days=1)
    alerts = Alerts(workflow)
    reviewed = await alerts.apply(
        alert_id, StartRightToKnow(summary="Three women in a year name the same man"),
        actor="inspector.bob", area="derbyshire", expected_version=1,
    )
    assert (reviewed.state, reviewed.review, reviewed.reviewed_by, reviewed.version) == (
        "reviewed", "right_to_know_started", "inspector.bob", 2)
    assert reviewed.reviewed_at == clock.current
    started = await workflow.get(reviewed.started_request or "")
    assert (started.route, started.scheme, started.state, started.channel) == (
        "right_to_know", "dvds", "received", "repeat_subject_review")
    assert sorted((p.role, p.name) for p in started.parties) == [
        ("person_at_risk", "Emma Walker"), ("person_at_risk", "Kerry Holt"),
        ("person_at_risk", "Sophie Hart"), ("subject", "Daniel Price")]
    assert {(link.kind, link.direction, link.reference) for link in started.links} == {
        ("repeat_subject_review", "to", v.reference) for v in views}
    for view in views:
        links = (await workflow.get(view.reference)).links
        assert [(link.kind, link.direction, link.reference) for link in links] == [
            ("repeat_subject_review", "from", started.reference)]
    # Its trail starts like any other request's: received through the workflow.
    assert [e.event for e in await workflow.events(started.reference)] == ["receive"]
    # The review's own request raises no alert of its own.
    assert started.alerts == []


async def test_a_review_may_record_no_action_with_its_reason(workflow: Workflow) -> None:
    _, alert_id = await _alerted(workflow)
    reviewed = await Alerts(workflow).apply(
        alert_id, RecordNoAction(reason="The same family, one incident, already at MARAC"),
        actor="inspector.bob", area="derbyshire", expected_version=1,
    )
    assert (reviewed.state, reviewed.review, reviewed.started_request) == (
        "reviewed", "no_action", None)
    assert reviewed.reason == "The same family, one incident, already at MARAC"


async def test_a_review_is_refused_when_stale_reviewed_or_elsewhere(workflow: Workflow) -> None:
    _, alert_id = await _alerted(workflow)
    alerts = Alerts(workflow)
    no_action = RecordNoAction(reason="Reviewed")
    with pytest.raises(NotFound, match=f"no alert {alert_id}"):
        await alerts.apply(alert_id, no_action, actor=OFFICER, area="durham",
                           expected_version=1)
    with pytest.raises(StaleVersion):
        await alerts.apply(alert_id, no_action, actor=OFFICER, area="derbyshire",
                           expected_version=7)
    await alerts.apply(alert_id, no_action, actor=OFFICER, area="derbyshire",
                       expected_version=1)
    with pytest.raises(EventNotAllowed, match="not allowed while the alert is reviewed"):
        await alerts.apply(alert_id, StartRightToKnow(summary="again"), actor=OFFICER,
                           area="derbyshire", expected_version=2)
    # The refused start made no request.
    assert (await alerts.get(alert_id, area="derbyshire")).started_request is None


async def test_after_a_review_new_information_raises_a_fresh_alert(
    workflow: Workflow, clock: FakeClock
) -> None:
    _, alert_id = await _alerted(workflow)
    await Alerts(workflow).apply(alert_id, RecordNoAction(reason="Reviewed"), actor=OFFICER,
                                 area="derbyshire", expected_version=1)
    clock.advance(days=2)
    fourth = await receive(workflow, "Daniel Price", at_risk="Amy Sample",
                           received_at=(clock.current - timedelta(hours=1)).isoformat())
    assert [a.state for a in fourth.alerts] == ["open"]
    assert fourth.alerts[0].id != alert_id


async def test_a_force_may_alert_on_the_second_application(workflow: Workflow) -> None:
    strict = Workflow(workflow.db, workflow.policy, now=workflow.now,
                      finding=FindingPolicy(repeat_requests=2))
    await receive(strict, "Daniel Price", at_risk="Emma Walker")
    second = await receive(strict, "Daniel Price", at_risk="Kerry Holt")
    assert [a.state for a in second.alerts] == ["open"]
