"""Over HTTP: what each caller may do now with its form's schema, and the 400s for times,
schemes and divisions that cannot be."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import People
from tests.factories import body, new_request

Client = httpx.AsyncClient


async def receive(client: Client, people: People, **overrides: Any) -> tuple[str, str]:
    response = await client.post("/api/requests", json=new_request(**overrides),
                                 headers=people.bearer("disclosure_officer"))
    assert response.status_code == 201, response.text
    return response.json()["reference"], response.headers["etag"]


async def send(client: Client, people: People, reference: str, etag: str, event: str, *,
               role: str = "disclosure_officer", **fields: Any) -> httpx.Response:
    return await client.post(
        f"/api/requests/{reference}/events", json=body(event, **fields),
        headers={"If-Match": etag, **people.bearer(role)},
    )


async def actions(client: Client, people: People, reference: str, role: str) -> dict[str, Any]:
    response = await client.get(f"/api/requests/{reference}/actions",
                                headers=people.bearer(role))
    assert response.status_code == 200, response.text
    return {a["event"]: a["payload_schema"] for a in response.json()["actions"]}


async def awaiting_decision(client: Client, people: People) -> tuple[str, str]:
    reference, etag = await receive(client, people)
    for event in ("complete_initial_checks", "record_meeting", "record_check",
                  "complete_checks"):
        response = await send(client, people, reference, etag, event)
        assert response.status_code == 200, response.text
        etag = response.headers["etag"]
    return reference, etag


async def test_actions_for_an_officer_and_a_decision_maker(
    client: Client, people: People
) -> None:
    reference, _ = await receive(client, people)
    officer = await actions(client, people, reference, "disclosure_officer")
    decider = await actions(client, people, reference, "decision_maker")
    assert list(officer) == [
        "complete_initial_checks", "take_immediate_action", "extend_deadline",
        "record_partner_request", "record_partner_response", "add_party", "amend_party",
        "withdraw", "continue_as_right_to_know", "close_no_engagement",
    ]
    assert list(decider) == [
        "take_immediate_action", "extend_deadline", "add_party", "amend_party",
    ]
    # Each form's schema is there to build it from.
    schema = officer["complete_initial_checks"]
    assert schema["title"] == "CompleteInitialChecks"
    assert schema["required"] == ["event", "finding", "immediate_risk"]
    assert {"finding", "occurred_at"} <= set(schema["properties"])
    assert schema["properties"]["finding"]["enum"] == [
        "duplicate", "in_scope", "out_of_scope", "referred_safeguarding",
    ]
    assert officer["amend_party"]["$defs"]["PartyChanges"]["properties"]["date_of_birth"]


async def test_the_decision_is_offered_to_a_decision_maker_only(
    client: Client, people: People
) -> None:
    reference, _ = await awaiting_decision(client, people)
    assert "record_decision" not in await actions(client, people, reference,
                                                  "disclosure_officer")
    offered = await actions(client, people, reference, "decision_maker")
    assert next(iter(offered)) == "record_decision"
    assert offered["record_decision"]["properties"]["decision"]["enum"] == [
        "disclose", "no_disclosure", "refer",
    ]


async def test_a_closed_request_offers_reopen_to_a_decision_maker_only(
    client: Client, people: People
) -> None:
    reference, etag = await receive(client, people)
    assert (await send(client, people, reference, etag, "withdraw")).status_code == 200
    assert list(await actions(client, people, reference, "disclosure_officer")) == [
        "record_subject_told",
    ]
    reopen = (await actions(client, people, reference, "decision_maker"))["reopen"]
    assert reopen["properties"]["category"]["enum"] == [
        "applicant_reengaged", "closed_in_error", "new_information", "other",
        "review_or_complaint",
    ]
    assert "recompute_clock" not in await actions(client, people, reference, "decision_maker")


async def test_a_409_lists_only_what_the_caller_may_send_now(
    client: Client, people: People
) -> None:
    reference, etag = await receive(client, people)
    response = await send(client, people, reference, etag, "record_decision",
                          role="decision_maker", decision="no_disclosure")
    assert response.status_code == 409
    assert response.json()["allowed"] == [
        "take_immediate_action", "extend_deadline", "add_party", "amend_party",
    ]
    assert response.json()["detail"] == (
        "record_decision is not allowed while the request is received; allowed now: "
        "take_immediate_action, extend_deadline, add_party, amend_party"
    )
    officer = await send(client, people, reference, etag, "record_notice")
    assert "recompute_clock" not in officer.json()["allowed"]
    assert "complete_initial_checks" in officer.json()["allowed"]


async def test_parties_are_amended_by_casework_roles_only(
    client: Client, people: People
) -> None:
    reference, etag = await receive(client, people)
    for role in ("auditor", "smb_member", "lay_adviser", "admin"):
        denied = await send(client, people, reference, etag, "amend_party", role=role)
        assert denied.status_code == 403
    read = await client.get(f"/api/requests/{reference}",
                            headers=people.bearer("disclosure_officer"))
    subject = next(p["id"] for p in read.json()["parties"] if p["role"] == "subject")
    amended = await send(client, people, reference, etag, "amend_party", role="decision_maker",
                         party_id=subject)
    assert amended.status_code == 200, amended.text
    empty = await send(client, people, reference, amended.headers["etag"], "amend_party",
                       party_id=subject, changes={})
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["field"] == "$.changes"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"received_at": "2014-03-07T12:00:00Z"}, "$.received_at",
         "received_at: no dvds policy was in force on 2014-03-07; its earliest version starts "
         "2014-03-08"),
        ({"scheme": "csods", "received_at": "2010-07-31T12:00:00Z"}, "$.received_at",
         "received_at: no csods policy was in force on 2010-07-31; its earliest version starts "
         "2010-08-01"),
        ({"received_at": "9999-12-31T23:59:59-01:00"}, "$.received_at",
         "$.received_at: must lie between 1900-01-01 and 2999-12-31 in UTC"),
        ({"division": "east"}, "$.division",
         "division: 'east' is not a division of derbyshire; its divisions are north, south"),
    ],
)
async def test_a_request_that_cannot_be_is_refused_naming_the_field(
    client: Client, people: People, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post("/api/requests", json=new_request(**overrides),
                                 headers=people.bearer("disclosure_officer"))
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == message
    assert response.json()["errors"][0]["field"] == field
    listed = await client.get("/api/requests", headers=people.bearer("disclosure_officer"))
    assert listed.json()["items"] == []


async def test_a_division_of_the_area_is_accepted(client: Client, people: People) -> None:
    reference, _ = await receive(client, people, division="south")
    read = await client.get(f"/api/requests/{reference}",
                            headers=people.bearer("disclosure_officer"))
    assert read.json()["division"] == "south"


async def test_the_35_days_apply_from_the_dvds_roll_out(client: Client, people: People) -> None:
    reference, _ = await receive(client, people, received_at="2014-03-10T09:00:00Z")
    read = await client.get(f"/api/requests/{reference}",
                            headers=people.bearer("disclosure_officer"))
    assert (read.json()["policy_version"], read.json()["due_at"]) == (
        "dvds-2014", "2014-04-14T22:59:59.999999Z"
    )


async def test_mappa_has_no_right_to_ask(client: Client, people: People) -> None:
    response = await client.post(
        "/api/requests", json=new_request("mappa", "right_to_ask"),
        headers=people.bearer("mapp_coordinator"),
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{
        "field": "$.route",
        "message": "mappa has no right to ask; its routes are right_to_know",
    }]


async def test_a_meeting_in_the_future_is_refused_naming_held_at(
    client: Client, people: People
) -> None:
    reference, etag = await receive(client, people)
    checked = await send(client, people, reference, etag, "complete_initial_checks")
    response = await send(client, people, reference, checked.headers["etag"], "record_meeting",
                          held_at="2026-11-08T10:00:00Z")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "$.held_at", "message": "held_at: is in the future"},
    ]


async def test_the_board_counts_closures_that_were_reopened(
    client: Client, people: People
) -> None:
    reference, etag = await receive(client, people)
    withdrawn = await send(client, people, reference, etag, "withdraw")
    reopened = await send(client, people, reference, withdrawn.headers["etag"], "reopen",
                          role="decision_maker", reason="Applicant rang back to go on")
    assert reopened.status_code == 200, reopened.text
    stats = await client.get("/api/stats", headers=people.bearer("lay_adviser"))
    assert stats.json()["reopened"] == [{
        "scheme": "dvds", "route": "right_to_ask", "outcome": "withdrawn",
        "reopen_category": "new_information", "closures": 1,
    }]
    assert "Applicant rang back" not in stats.text
