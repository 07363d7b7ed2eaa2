"""MAPP panels through the API, as a coordinator would use them: a Level 3 review meeting agrees
two disclosures, which become requests awaiting delivery, linked both ways; one is delivered and
the other passes its date onto the overdue queue."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from disclosure.audit import verify
from disclosure.workflow import Workflow
from tests import factories
from tests.api.conftest import OTHER, OWN, People
from tests.conftest import FakeClock


async def _nominal(client: httpx.AsyncClient, people: People, **overrides: Any) -> Any:
    answer = await client.post("/api/nominals", json=factories.new_nominal(**overrides),
                               headers=people.bearer("mapp_coordinator"))
    assert answer.status_code == 201, answer.text
    return answer


async def _meeting(
    client: httpx.AsyncClient, people: People, nominal_id: int, **overrides: Any
) -> Any:
    answer = await client.post("/api/meetings", json=factories.new_meeting(nominal_id, **overrides),
                               headers=people.bearer("mapp_coordinator"))
    assert answer.status_code == 201, answer.text
    return answer


async def _send(
    client: httpx.AsyncClient, people: People, meeting: int, version: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/api/meetings/{meeting}/events", json=body,
        headers={**people.bearer("mapp_coordinator"), "If-Match": version},
    )


async def test_level_3_review_agrees_two_disclosures_tracked_to_delivery(
    client: httpx.AsyncClient, people: People, workflow: Workflow, clock: FakeClock
) -> None:
    coordinator = people.bearer("mapp_coordinator")
    nominal = (await _nominal(client, people)).json()
    created = await _meeting(client, people, nominal["id"], level=3)
    meeting = created.json()
    assert created.headers["Location"] == f"/api/meetings/{meeting['id']}"
    assert meeting["state"] == "draft" and meeting["level"] == 3
    # Level 3 in the community: reviewed within 8 weeks.
    assert meeting["review_due_at"] == "2026-11-26T10:00:00Z"

    refused = await _send(client, people, meeting["id"], created.headers["ETag"],
                          {"event": "finalise"})
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "without its disclosure consideration" in refused.json()["detail"]

    considered = await _send(client, people, meeting["id"], created.headers["ETag"],
                             factories.consideration())
    assert considered.status_code == 200, considered.text
    links = considered.json()["requests"]
    assert [link["state"] for link in links] == ["awaiting_delivery"] * 2
    assert {link["scheme"] for link in links} == {"mappa"}
    partner, employer = (link["reference"] for link in links)

    for reference in (partner, employer):
        request = (await client.get(f"/api/requests/{reference}", headers=coordinator)).json()
        assert request["meeting_id"] == meeting["id"]
        assert request["state"] == "awaiting_delivery"
        assert request["channel"] == "mapp_meeting"
    employer_view = (await client.get(f"/api/requests/{employer}", headers=coordinator)).json()
    assert employer_view["due_at"] == "2026-11-20T17:00:00Z"
    [organisation] = [p for p in employer_view["parties"] if p["role"] == "recipient"]
    assert organisation["kind"] == "organisation"

    # The decision is the meeting's: its level's forum, its chair deciding, each deliverer
    # named with their agency.
    decisions = (await client.get("/api/decisions", headers=people.bearer("decision_maker")))
    assert decisions.status_code == 200
    assert decisions.json()["items"][0]["forum"] == "mapp_level_3"

    nominal_view = (await client.get(f"/api/nominals/{nominal['id']}", headers=coordinator))
    assert [d["reference"] for d in nominal_view.json()["disclosures"]] == [partner, employer]
    assert nominal_view.json()["meetings"][0]["id"] == meeting["id"]

    # The partner is told, in the approved words, and signs the undertaking.
    clock.advance(days=1)
    request = (await client.get(f"/api/requests/{partner}", headers=coordinator))
    [lisa] = [p for p in request.json()["parties"] if p["role"] == "recipient"]
    delivered = await client.post(
        f"/api/requests/{partner}/events",
        json=factories.body(
            "record_delivery", delivered_at="2026-11-08T11:00:00Z", location="Her home",
            delivered_by="DS Kay Lowe", recipient_party_id=lisa["id"],
            words_used=factories.agreed_recipient()["wording"], referrals=[],
            safety_plan_made=False,
        ),
        headers={**people.bearer("disclosure_officer"), "If-Match": request.headers["ETag"]},
    )
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["state"] == "closed"

    # The employer's letter is not sent by 20 November: it is overdue on the queue.
    clock.advance(days=14)
    queue = (await client.get("/api/requests?queue=overdue", headers=coordinator)).json()
    overdue = [item["reference"] for item in queue["items"]]
    assert employer in overdue and partner not in overdue
    meeting_now = (await client.get(f"/api/meetings/{meeting['id']}", headers=coordinator))
    assert [(r["reference"], r["overdue"]) for r in meeting_now.json()["requests"]] == [
        (partner, False), (employer, True),
    ]

    finalised = await _send(client, people, meeting["id"], meeting_now.headers["ETag"],
                            {"event": "finalise"})
    assert finalised.status_code == 200 and finalised.json()["state"] == "finalised"
    amended = await _send(client, people, meeting["id"], finalised.headers["ETag"], {
        "event": "amend", "reason": "Housing officer's name was misspelt",
        "changes": {"attendees": [{"name": "DS Kay Lowe", "agency": "police"},
                                  {"name": "Sam Reid", "agency": "probation"},
                                  {"name": "Pat Moses", "agency": "housing"}]},
    })
    assert amended.status_code == 200, amended.text
    last = amended.json()["trail"][-1]
    assert last["event"] == "amend"
    assert last["payload"]["reason"] == "Housing officer's name was misspelt"
    assert last["payload"]["old"]["attendees"][2]["name"] == "Pat Moss"

    verdict = await verify(workflow.db)
    assert verdict.ok, verdict.problems
    assert verdict.nominals_checked == 1 and verdict.nominal_events_checked == 5


async def test_another_areas_nominal_and_meeting_are_not_found(
    client: httpx.AsyncClient, people: People
) -> None:
    nominal = (await _nominal(client, people)).json()
    meeting = (await _meeting(client, people, nominal["id"])).json()
    other = people.bearer("mapp_coordinator", OTHER)
    for path in (f"/api/nominals/{nominal['id']}", f"/api/meetings/{meeting['id']}"):
        answer = await client.get(path, headers=other)
        assert answer.status_code == 404, path
    answer = await client.post("/api/meetings", json=factories.new_meeting(nominal["id"]),
                               headers=other)
    assert answer.status_code == 404
    listing = await client.get("/api/meetings", headers=other)
    assert listing.json()["items"] == []
    assert OWN not in listing.text
    for bad in ("2026-01-01T00:00:00", "0.5", "2026-02-31", "3962-04-04", "1899-12-31"):
        answer = await client.get("/api/meetings", params={"held_from": bad}, headers=other)
        assert answer.status_code == 400, answer.text
        assert "held_from" in answer.json()["detail"]
    for edge in ("9999-12-31", "0001-01-01"):
        answer = await client.get("/api/meetings", params={"held_to": edge}, headers=other)
        assert answer.status_code == 400 and "held_to" in answer.json()["detail"], answer.text


async def test_events_need_the_current_etag_and_strict_bodies(
    client: httpx.AsyncClient, people: People
) -> None:
    nominal = await _nominal(client, people)
    meeting = await _meeting(client, people, nominal.json()["id"])
    path = f"/api/meetings/{meeting.json()['id']}/events"
    coordinator = people.bearer("mapp_coordinator")
    add = {"event": "add_action_points", "action_points": factories.new_meeting(1)["action_points"]}
    missing = await client.post(path, json=add, headers=coordinator)
    assert missing.status_code == 428
    stale = await client.post(path, json=add, headers={**coordinator, "If-Match": '"7"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == 1
    changed = await client.post(
        f"/api/nominals/{nominal.json()['id']}/events", headers=coordinator,
        json={"event": "change_level", "level": 2, "effective_at": "2026-11-01T09:00:00Z"})
    assert changed.status_code == 428
    # The meeting moved the nominal on: its ETag counts every event on the nominal's trail.
    current = await client.get(f"/api/nominals/{nominal.json()['id']}", headers=coordinator)
    assert current.headers["ETag"] == '"2"' != nominal.headers["ETag"]
    changed = await client.post(
        f"/api/nominals/{nominal.json()['id']}/events",
        headers={**coordinator, "If-Match": current.headers["ETag"]},
        json={"event": "change_level", "level": 2, "effective_at": "2026-11-01T09:00:00Z"})
    assert changed.status_code == 200 and changed.json()["level"] == 2

    unknown = await client.post("/api/meetings", headers=coordinator, json={
        **factories.new_meeting(nominal.json()["id"]), "venue": "Room 4"})
    assert unknown.status_code == 400 and "venue" in unknown.text
    future = await client.post("/api/meetings", headers=coordinator, json=factories.new_meeting(
        nominal.json()["id"], held_at="2027-01-01T10:00:00Z"))
    assert future.status_code == 400
    assert future.json()["errors"][0]["field"] == "$.held_at"
    twice = await client.post("/api/nominals", json=factories.new_nominal(), headers=coordinator)
    assert twice.status_code == 400 and "already a nominal" in twice.json()["detail"]
    officer = await client.post(path, json=add, headers={
        **people.bearer("disclosure_officer"), "If-Match": '"1"'})
    assert officer.status_code == 403


async def test_a_meeting_edited_behind_the_services_back_is_refused_with_409(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    nominal = (await _nominal(client, people)).json()
    meeting = await _meeting(client, people, nominal["id"])
    async with workflow.db.write() as session, session.begin():
        await session.execute(text("UPDATE meetings SET chair = 'Nobody' WHERE id = :id"),
                              {"id": meeting.json()["id"]})
    refused = await _send(client, people, meeting.json()["id"], meeting.headers["ETag"],
                          factories.consideration())
    assert refused.status_code == 409, refused.text
    assert "does not match its seal" in refused.json()["detail"]
    unchanged = await client.get(f"/api/meetings/{meeting.json()['id']}",
                                 headers=people.bearer("mapp_coordinator"))
    assert unchanged.json()["requests"] == [] and unchanged.json()["consideration"] is None
