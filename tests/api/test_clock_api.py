"""The clock over HTTP: each due date explained, and the queues on the list endpoint."""

from __future__ import annotations

import httpx

from disclosure.workflow import Workflow
from tests.api.conftest import People
from tests.integration.test_clocks_service import receive


async def test_clock_endpoint_explains_each_due_date(
    workflow: Workflow, client: httpx.AsyncClient, people: People
) -> None:
    reference = await receive(workflow, "2026-11-02T09:00:00Z")
    client.headers.update(people.bearer("disclosure_officer"))
    response = await client.get(f"/api/requests/{reference}/clock")
    assert response.status_code == 200
    body = response.json()
    assert (body["policy_version"], body["stage"]) == ("dvds-2023", "initial_checks")
    assert body["overall"]["explanation"] == (
        "Due by 23:59 on Monday 30 November 2026: received 09:00 Monday 2 November 2026, "
        "plus 28 calendar days."
    )
    assert body["overall"]["limit"] == {"amount": 28, "unit": "calendar_days"}
    assert body["stages"][0]["explanation"] == (
        "Due by 09:00 on Tuesday 3 November 2026: received 09:00 Monday 2 November 2026, "
        "plus 24 hours."
    )
    listed = await client.get("/api/requests/", params={"queue": "due_soon"})
    assert listed.status_code == 200 and listed.json()["items"] == []
    assert (await client.get("/api/requests/", params={"queue": "late"})).status_code == 400
    staged = await client.get("/api/requests/", params={"stage": "initial_checks"})
    assert [(i["reference"], i["stage_due_at"]) for i in staged.json()["items"]] == [
        (reference, "2026-11-03T09:00:00Z"),
    ]
    missing = await client.get("/api/requests/DVDS-2026-999999/clock")
    assert missing.status_code == 404
