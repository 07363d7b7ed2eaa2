"""The event trail: an edited or deleted row is found, an erased payload is not mistaken for one."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import delete, null, select, update

from disclosure import audit
from disclosure.models import Event, Request
from disclosure.workflow import Workflow
from tests.factories import new, payload

OFFICER = "officer.ann"
STEPS = ("complete_initial_checks", "record_meeting", "record_check")


async def two_requests(workflow: Workflow) -> str:
    """An untouched request and, after it, the one the test tampers with (4 events)."""
    references = []
    for _ in range(2):
        view = await workflow.create(new(), actor=OFFICER)
        for version, event in enumerate(STEPS, start=1):
            await workflow.apply(view.reference, payload(event), actor=OFFICER,
                                 expected_version=version)
        references.append(view.reference)
    async with workflow.db.read() as session:
        assert (await audit.verify(session)).ok
    return references[1]


async def tamper(workflow: Workflow, reference: str, seq: int, **values: Any) -> None:
    """Change an event row behind the service's back; no values deletes it."""
    async with workflow.db.write() as session, session.begin():
        rid = await session.scalar(select(Request.id).where(Request.reference == reference))
        where = (Event.request_id == rid) & (Event.seq == seq)
        if values:
            await session.execute(update(Event).where(where).values(**values))
        else:
            await session.execute(delete(Event).where(where))


async def verdict(workflow: Workflow) -> audit.Verdict:
    async with workflow.db.read() as session:
        return await audit.verify(session)


async def test_edited_payload_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    edited = {**msgspec.to_builtins(payload("record_meeting")), "identity_verified": False}
    await tamper(workflow, reference, 3, payload=edited)
    found = await verdict(workflow)
    assert (found.ok, found.reference, found.seq) == (False, reference, 3)
    assert found.problem == "payload does not match its digest"


async def test_edited_actor_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await tamper(workflow, reference, 2, actor="someone.else")
    found = await verdict(workflow)
    assert (found.ok, found.reference, found.seq) == (False, reference, 2)
    assert found.problem == "event fields do not match its hash"


async def test_deleted_middle_event_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await tamper(workflow, reference, 2)
    found = await verdict(workflow)
    assert (found.ok, found.reference, found.seq) == (False, reference, 2)
    assert found.problem == "event 2 is missing"


async def test_deleted_last_event_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await tamper(workflow, reference, 4)
    found = await verdict(workflow)
    assert (found.ok, found.reference, found.seq) == (False, reference, 4)
    assert found.problem == "request is at version 4 but has 3 events"


async def test_erased_payload_still_verifies(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await tamper(workflow, reference, 1, payload=null(), payload_salt=null())
    found = await verdict(workflow)
    assert found.ok, found
    assert (found.requests_checked, found.events_checked) == (2, 8)
    events = await workflow.events(reference)
    assert events[0].payload is None
