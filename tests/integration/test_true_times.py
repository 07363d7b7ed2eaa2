"""Times that are true: when each event happened, apart from when it was recorded, and the
clocks that run from it; times that cannot be true are refused and change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from disclosure import audit
from disclosure.db import Database
from disclosure.errors import InvalidInput
from disclosure.policy import load_policy_book
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.factories import new, payload, utc

OFFICER = "officer.ann"


async def send(workflow: Workflow, reference: str, event: str, **fields: object) -> int:
    version = (await workflow.get(reference)).version
    done = await workflow.apply(
        reference, payload(event, **fields), actor=OFFICER, expected_version=version
    )
    return done.version


async def refused(
    workflow: Workflow, reference: str, event: str, **fields: object
) -> InvalidInput:
    before = await workflow.get(reference)
    with pytest.raises(InvalidInput) as error:
        await send(workflow, reference, event, **fields)
    after = await workflow.get(reference)
    assert (after.version, after.state, after.due_at) == (
        before.version, before.state, before.due_at
    )
    return error.value


async def test_an_event_says_when_it_happened_apart_from_when_it_was_recorded(
    workflow: Workflow,
) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await send(workflow, view.reference, "complete_initial_checks")
    # Entered on Saturday 7 November: the meeting was held on Tuesday the 3rd.
    await send(workflow, view.reference, "record_meeting", held_at="2026-11-03T10:00:00Z")
    receive, checks, meeting = await workflow.events(view.reference)
    assert (receive.occurred_at, receive.recorded_at) == (
        utc("2026-11-02T09:00:00Z"), utc("2026-11-07T12:00:00Z")
    )
    assert (checks.occurred_at, meeting.occurred_at) == (
        utc("2026-11-02T12:00:00Z"), utc("2026-11-03T10:00:00Z")
    )
    assert meeting.recorded_at == utc("2026-11-07T12:00:00Z")
    # The time an event happened is part of its link, and so is when it was recorded.
    assert (await audit.verify(workflow.db)).ok


async def test_an_event_without_a_time_happened_when_it_is_recorded(
    workflow: Workflow, clock: FakeClock
) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await send(workflow, view.reference, "extend_deadline")
    extended = (await workflow.events(view.reference))[-1]
    assert extended.occurred_at == extended.recorded_at == clock.current


async def test_back_dated_initial_checks_move_the_meeting_clock(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await send(workflow, view.reference, "complete_initial_checks",
               occurred_at="2026-11-02T15:30:00Z")
    after = await workflow.get(view.reference)
    assert after.stage_due_at == utc("2026-11-16T23:59:59.999999Z")
    clock = await workflow.clock(view.reference)
    assert clock.stages[1].explanation == (
        "Due by 23:59 on Monday 16 November 2026: initial checks completed 15:30 Monday "
        "2 November 2026, plus 10 working days in England, skipping 4 weekend days."
    )


CHECKS_TARGET = """
[[version]]
code = "dvds-2023"
stages.checks = { amount = 5, unit = "working_days" }
"""


async def test_a_meeting_entered_on_friday_starts_the_checks_clock_on_tuesday(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    override = tmp_path / "policy.toml"
    override.write_text(CHECKS_TARGET)
    workflow = Workflow(Database(database_url), load_policy_book(override), now=clock)
    try:
        view = await workflow.create(new(), actor=OFFICER)
        await send(workflow, view.reference, "complete_initial_checks")
        clock.current = utc("2026-11-06T16:00:00Z")  # Friday
        await send(workflow, view.reference, "record_meeting", held_at="2026-11-03T10:00:00Z")
        after = await workflow.get(view.reference)
        # Five working days from Tuesday 3 November, not from Friday the 6th.
        assert (after.stage, after.stage_due_at) == ("checks", utc("2026-11-10T23:59:59.999999Z"))
        checks = (await workflow.clock(view.reference)).stages[-1]
        assert checks.explanation.startswith(
            "Due by 23:59 on Tuesday 10 November 2026: checks started 10:00 Tuesday "
            "3 November 2026"
        )
    finally:
        await workflow.db.dispose()


@pytest.mark.parametrize(
    ("event", "fields", "field", "message"),
    [
        ("complete_initial_checks", {"occurred_at": "2026-11-07T12:00:01Z"}, "occurred_at",
         "is in the future"),
        ("take_immediate_action", {"taken_at": "2026-11-08T09:00:00Z"}, "taken_at",
         "is in the future"),
        ("complete_initial_checks", {"occurred_at": "2026-11-02T08:59:59Z"}, "occurred_at",
         "is before the request was received (2026-11-02T09:00:00+00:00)"),
        ("record_partner_request", {"asked_at": "2026-11-01T10:00:00Z"}, "asked_at",
         "is before the request was received (2026-11-02T09:00:00+00:00)"),
        ("record_partner_request", {"due_at": "2026-10-30T10:00:00Z"}, "due_at",
         "is before the request was received (2026-11-02T09:00:00+00:00)"),
        ("take_immediate_action", {"taken_at": "2026-11-02T13:00:00Z",
                                   "occurred_at": "2026-11-02T14:00:00Z"}, "occurred_at",
         "differs from taken_at; give one time for when it happened"),
    ],
)
async def test_times_that_cannot_be_true_are_refused_naming_the_field(
    workflow: Workflow, event: str, fields: dict[str, object], field: str, message: str
) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    error = await refused(workflow, view.reference, event, **fields)
    assert (error.field, str(error)) == (field, f"{field}: {message}")


async def test_a_due_date_may_lie_ahead(workflow: Workflow) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await send(workflow, view.reference, "record_partner_request", due_at="2026-12-01T10:00:00Z")
    assert (await workflow.get(view.reference)).version == 2


async def test_an_event_cannot_have_happened_before_the_step_that_made_it_possible(
    workflow: Workflow,
) -> None:
    view = await workflow.create(new(), actor=OFFICER)
    await send(workflow, view.reference, "complete_initial_checks",
               occurred_at="2026-11-03T09:00:00Z")
    error = await refused(workflow, view.reference, "record_meeting",
                          held_at="2026-11-03T08:00:00Z")
    assert str(error) == (
        "held_at: is before the request became awaiting_meeting (2026-11-03T09:00:00+00:00); "
        "an event cannot have happened before the step that made it possible"
    )
    # Events that leave the state alone may be entered in any order within it.
    await send(workflow, view.reference, "record_partner_request",
               asked_at="2026-11-05T10:00:00Z")
    await send(workflow, view.reference, "take_immediate_action",
               taken_at="2026-11-04T10:00:00Z")
    await send(workflow, view.reference, "record_meeting", held_at="2026-11-03T10:00:00Z")
    assert (await workflow.get(view.reference)).state == "checks"
