"""Paging to the end of every list and queue shows each request once, in the listing's order.

Ids start above a trillion, as in a force that has kept records for years, so every cursor is as
long as the ones a real deployment issues.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, text

from disclosure import cursors
from disclosure.models import Request
from disclosure.policy import STAGES
from disclosure.timeliness import STATE_OF_STAGE
from disclosure.workflow import Workflow
from tests.api.conftest import OWN, People
from tests.conftest import FakeClock
from tests.factories import new, payload
from tests.factories import recipient as decided_for

OFFICER = "officer.ann"
DECIDER = "inspector.bob"
FIRST_ID = 10**12

# (scheme, route, state reached, immediate risk): every state of every route, with and
# without immediate risk; MAPPA requests have no overall due date before the meeting.
SHAPES = [
    (scheme, route, state, risk)
    for scheme, route in (("dvds", "right_to_ask"), ("dvds", "right_to_know"),
                          ("csods", "right_to_ask"), ("mappa", "right_to_know"))
    for state in ("received", "awaiting_meeting", "checks", "awaiting_decision",
                  "awaiting_delivery", "closed")
    for risk in (False, True)
    if not (state == "awaiting_meeting" and route == "right_to_know")
    if not (risk and state in ("received", "closed"))
    # A MAPPA referral has no party a disclosure could be made to in these payloads.
    if not (scheme == "mappa" and state == "awaiting_delivery")
]
# Few distinct days, so many requests share a due date and the id breaks the tie.
RECEIVED = ["2026-08-03T09:00:00Z", "2026-10-01T09:00:00Z", "2026-10-06T09:00:00Z",
            "2026-11-02T09:00:00Z"]


async def start_ids_high(workflow: Workflow) -> None:
    async with workflow.db.write() as session, session.begin():
        if workflow.db.dialect == "postgresql":
            await session.execute(text(f"SELECT setval('requests_id_seq', {FIRST_ID})"))
        else:
            # SQLite numbers a row one past the highest: a closed request of another area.
            now = workflow.now()
            await session.execute(insert(Request), {
                "id": FIRST_ID, "reference": "DVDS-2000-000001", "scheme": "dvds",
                "route": "right_to_ask", "area": "elsewhere", "division": None,
                "channel": "online", "summary": "-", "state": "closed", "outcome": None,
                "immediate_risk": False, "policy_version": "dvds-2016", "received_at": now,
                "due_at": None, "stage_due_at": None, "closed_at": now, "created_at": now,
                "updated_at": now, "created_by": "-", "version": 1, "last_event_hash": "-",
            })


async def make(workflow: Workflow, scheme: str, route: str, state: str, risk: bool,
               received_at: str) -> None:
    view = await workflow.create(
        new(scheme, route, received_at=received_at), actor=OFFICER
    )
    steps: list[tuple[str, str, dict[str, Any]]] = []
    if state == "closed":
        steps.append(("complete_initial_checks", OFFICER, {"finding": "out_of_scope"}))
    elif state != "received":
        steps.append(("complete_initial_checks", OFFICER, {"immediate_risk": risk}))
        if route == "right_to_ask" and state != "awaiting_meeting":
            steps.append(("record_meeting", OFFICER, {}))
    if state in ("awaiting_decision", "awaiting_delivery"):
        steps += [("record_check", OFFICER, {}), ("complete_checks", OFFICER, {})]
    if state == "awaiting_delivery":
        # CSODS discloses to the parent who asked; DVDS to the person at risk.
        role = "applicant" if scheme == "csods" else "person_at_risk"
        recipient = next(p.id for p in view.parties if p.role == role)
        decision: dict[str, Any] = {"recipients": [decided_for(recipient)]}
        if scheme == "csods":
            decision["presumption_applies"] = True
        steps.append(("record_decision", DECIDER, decision))
    version = view.version
    for event, actor, fields in steps:
        result = await workflow.apply(
            view.reference, payload(event, **fields), actor=actor, expected_version=version
        )
        version = result.version
    assert (await workflow.get(view.reference)).state == state


async def every_page(client: httpx.AsyncClient, params: dict[str, str]) -> list[str]:
    found: list[str] = []
    cursor: str | None = None
    while True:
        query = params | {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/api/requests", params=query)
        assert response.status_code == 200, (params, response.text)
        page = response.json()
        found += [item["reference"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def queue_order(rows: list[Request], due: str) -> list[str]:
    never = datetime.max.replace(tzinfo=rows[0].received_at.tzinfo) if rows else None

    def key(r: Request) -> tuple[bool, datetime | None, int]:
        return (not r.immediate_risk, getattr(r, due) or never, r.id)

    return [r.reference for r in sorted(rows, key=key)]


@pytest.mark.slow
async def test_every_list_and_queue_pages_to_the_end_showing_each_request_once(
    client: httpx.AsyncClient, people: People, workflow: Workflow, clock: FakeClock
) -> None:
    client.headers.update(people.bearer("disclosure_officer"))
    await start_ids_high(workflow)
    received = itertools.cycle(RECEIVED)
    for number, shape in enumerate(SHAPES):
        await make(workflow, *shape, received_at=next(received))
        # Entered in pairs a second apart: the newest-first lists break the ties by id.
        clock.advance(seconds=number % 2)
    async with workflow.db.read() as session:
        rows = list(await session.scalars(select(Request).where(Request.area == OWN)))
    assert min(r.id for r in rows) > FIRST_ID
    now = clock()
    window = workflow.policy.due_soon
    open_rows = [r for r in rows if r.state != "closed"]

    def overdue(r: Request, due: str = "due_at") -> bool:
        at = getattr(r, due)
        return r.state != "closed" and at is not None and at < now

    def due_soon(r: Request, due: str = "due_at") -> bool:
        at = getattr(r, due)
        return at is not None and now <= at <= now + window

    newest_first = sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)
    expected: dict[tuple[tuple[str, str], ...], list[str]] = {
        (): [r.reference for r in newest_first],
        (("overdue", "true"),): [r.reference for r in newest_first if overdue(r)],
        (("overdue", "false"),): [r.reference for r in newest_first if not overdue(r)],
        (("queue", "overdue"),): queue_order([r for r in open_rows if overdue(r)], "due_at"),
        (("queue", "due_soon"),): queue_order([r for r in open_rows if due_soon(r)], "due_at"),
    }
    for state in {r.state for r in rows}:
        expected[(("state", state),)] = [r.reference for r in newest_first if r.state == state]
    for field in ("scheme", "route"):
        for value in {getattr(r, field) for r in rows}:
            expected[((field, value),)] = [
                r.reference for r in newest_first if getattr(r, field) == value
            ]
    for stage in STAGES:
        in_stage = [r for r in rows if r.state == STATE_OF_STAGE[stage]]
        expected[(("stage", stage),)] = queue_order(in_stage, "stage_due_at")
        expected[(("stage", stage), ("queue", "overdue"))] = queue_order(
            [r for r in in_stage if overdue(r, "stage_due_at")], "stage_due_at"
        )
        expected[(("stage", stage), ("queue", "due_soon"))] = queue_order(
            [r for r in in_stage if due_soon(r, "stage_due_at")], "stage_due_at"
        )
    # Every listing that can have more than one page has: the test would not see a bad cursor.
    assert all(len(expected[k]) > 3 for k in [(), (("queue", "overdue"),),
                                               (("stage", "checks"),)])
    assert any(r.stage_due_at is None for r in open_rows)
    assert len({r.due_at for r in open_rows}) < len(open_rows)
    for params, references in expected.items():
        assert await every_page(client, dict(params)) == references, params


async def test_a_cursor_beyond_any_date_is_refused(client: httpx.AsyncClient,
                                                   people: People) -> None:
    beyond = cursors.encode(False, cursors.MAX_ID - 1, 1)
    response = await client.get("/api/requests", params={"queue": "overdue", "cursor": beyond},
                                headers=people.bearer("disclosure_officer"))
    assert response.status_code == 400 and "cursor" in response.text
