"""`GET /api/audit/verify`: an auditor checks their own area and sees only its counts; an admin
checks every area."""

from __future__ import annotations

import httpx
from sqlalchemy import select, update

from disclosure.models import Party, Request
from disclosure.workflow import Workflow
from tests.api.conftest import OTHER, OWN, People
from tests.factories import new


async def test_verify_covers_the_callers_area_and_an_admins_covers_all(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    await workflow.create(new(area=OWN), actor="officer")
    await workflow.create(new(area=OWN), actor="officer")
    elsewhere = await workflow.create(new(area=OTHER, division="north"), actor="officer")

    async def verdict(role: str, area: str = OWN) -> dict[str, object]:
        answer = await client.get("/api/audit/verify", headers=people.bearer(role, area))
        assert answer.status_code == 200
        found: dict[str, object] = answer.json()
        return found

    own = await verdict("auditor")
    assert (own["ok"], own["area"], own["requests_checked"], own["events_checked"]) == (
        True, OWN, 2, 2)
    other = await verdict("auditor", OTHER)
    assert (other["ok"], other["area"], other["requests_checked"]) == (True, OTHER, 1)
    everything = await verdict("admin")
    assert (everything["ok"], everything["area"], everything["requests_checked"]) == (
        True, None, 3)

    async with workflow.db.write() as session, session.begin():
        rid = await session.scalar(
            select(Request.id).where(Request.reference == elsewhere.reference)
        )
        await session.execute(
            update(Party).where(Party.request_id == rid).values(name="Someone Else")
        )
    assert (await verdict("auditor"))["ok"] is True, "another area's edit is not theirs to see"
    broken = await verdict("auditor", OTHER)
    assert (broken["ok"], broken["reference"]) == (False, elsewhere.reference)
    assert str(broken["problem"]).endswith("does not match its seal")
    assert (await verdict("admin"))["ok"] is False
