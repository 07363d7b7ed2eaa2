"""Personal data stays with casework: oversight roles never see it, and logs never hold it."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from disclosure import access
from disclosure.models import View
from disclosure.workflow import Workflow
from tests import factories
from tests.api.conftest import OTHER, OWN, People
from tests.api.test_access_matrix import SAMPLES
from tests.conftest import FakeClock

# Distinctive enough that any appearance in an answer or a log line is a leak.
SUBJECT = "Zebedee Quartermaine"
AT_RISK = "Philippa Ravenscroft-Oduya"
APPLICANT = "Marguerite Thistlewood"
ADDRESS = "17 Ottoline Crescent, Matlock"
PHONE = "07700 900917"
CHAIR = "Hortensia Blythe"
ATTENDEE = "Ignatius Falconbridge"
PERSONAL = [SUBJECT, AT_RISK, APPLICANT, ADDRESS, PHONE, CHAIR, ATTENDEE, "Quartermaine",
            "Ravenscroft", "Thistlewood", "Ottoline", "Falconbridge"]


def distinctive_request() -> dict[str, Any]:
    body = factories.new_request(area=OWN)
    body["division"] = "north"
    body["summary"] = "Concern raised about a new partner"
    body["parties"] = [
        {"role": "subject", "name": SUBJECT, "sex": "male", "age_band": "35_44",
         "address": ADDRESS},
        {"role": "person_at_risk", "name": AT_RISK, "sex": "female", "age_band": "25_34",
         "address": ADDRESS},
        {"role": "applicant", "name": APPLICANT, "relationship": "mother",
         "safe_contact": {"method": "phone", "details": PHONE, "times": "after 6pm"}},
    ]
    return body


def decision(at_risk: int, **fields: Any) -> dict[str, Any]:
    answer = {"met": True, "rationale": f"{SUBJECT} poses a risk to {AT_RISK}"}
    return {
        "chair": CHAIR,
        "attendees": [{"name": ATTENDEE, "agency": "idva_service"}],
        "legal_test": {"lawful": answer, "pressing_need": answer, "necessary": answer,
                       "proportionate": answer, "data_protection_considered": True,
                       "rehabilitation_of_offenders_considered": True},
        "recipients": [factories.recipient(
            at_risk, wording=WORDING, rationale=f"{AT_RISK} is at risk")],
        "dissent": f"{ATTENDEE} disagreed", **fields,
    }


WORDING = f"{SUBJECT} has a conviction for violence against {AT_RISK}'s predecessor."


@pytest.fixture(autouse=True)
def _after_the_example_dates(clock: FakeClock) -> None:
    """The factories' events happen up to 7 November; these tests record them after."""
    clock.advance(days=10)


async def walk_to_delivery(client: httpx.AsyncClient, people: People) -> str:
    officer = people.bearer("disclosure_officer")
    decider = people.bearer("decision_maker")
    created = (await client.post("/api/requests", json=distinctive_request(),
                                 headers=officer)).json()
    ref, version = created["reference"], created["version"]
    at_risk = next(p["id"] for p in created["parties"] if p["role"] == "person_at_risk")
    steps: list[tuple[dict[str, str], str, dict[str, Any]]] = [
        (officer, "complete_initial_checks", {}),
        (officer, "record_meeting", {}),
        (officer, "record_check", {"summary": f"{SUBJECT}: one conviction"}),
        (officer, "complete_checks", {}),
        (decider, "record_decision", decision(at_risk)),
        (officer, "record_delivery", {
            "recipient_party_id": at_risk, "words_used": WORDING, "location": ADDRESS}),
        (officer, "record_notice", {"safety_advice": f"Told {APPLICANT} how to call 999"}),
    ]
    for who, event, fields in steps:
        answer = await client.post(
            f"/api/requests/{ref}/events", json=factories.body(event, **fields),
            headers={**who, "If-Match": f'"{version}"'},
        )
        assert answer.status_code == 200, answer.text
        version = answer.json()["version"]
    # Casework does see the names: the scan below is not passing by accident.
    read = await client.get(f"/api/requests/{ref}", headers=officer)
    assert SUBJECT in read.text and ADDRESS in read.text
    return ref


@pytest.mark.parametrize("role", ["smb_member", "lay_adviser"])
async def test_oversight_roles_never_receive_names_or_addresses(
    client: httpx.AsyncClient, people: People, role: str
) -> None:
    ref = await walk_to_delivery(client, people)
    # The one exception: a board member reads a sampled decision an auditor released, and
    # every such read is on the read trail (tests/api/test_reports_api.py).
    personal = {name for name, rule in access.ENDPOINTS.items()
                if rule.personal and role in rule.roles}
    assert personal <= {"released_decision"}
    reached = 0
    for handler, sample in SAMPLES.items():
        rule = access.ENDPOINTS[handler]
        if not rule.public and role not in rule.roles:
            continue
        method, path, body = sample(ref, OWN, role)
        if handler == "close_session":
            continue  # would end the token used for the rest of the scan
        answer = await client.request(method, path, json=body, headers=people.bearer(role))
        for value in PERSONAL:
            assert value not in answer.text, f"{value!r} leaked through {method} {path}"
        reached += answer.status_code == 200
    # The scan reached the answers these roles exist for.
    assert reached >= 2
    decisions = (await client.get("/api/decisions", headers=people.bearer(role))).json()
    [record] = decisions["items"]
    assert record["decision"] == "disclose" and record["outcome"] == "disclosed_to_person_at_risk"
    assert record["legal_test"]["pressing_need"] is True and record["dissent_recorded"] is True
    assert record["attendee_agencies"] == ["idva_service"] and record["division"] == "north"
    assert (record["decision_maker_role"], record["recipients"], record["delivered"]) == (
        "inspector", 1, 1)
    stats = (await client.get("/api/stats", headers=people.bearer(role))).json()
    assert stats["total"] == 1 and stats["counts"][0]["outcome"] == "disclosed_to_person_at_risk"
    assert (stats["disclosures_delivered"], stats["urgent_disclosures_delivered"]) == (1, 0)


async def test_oversight_sees_only_its_own_area(
    client: httpx.AsyncClient, people: People
) -> None:
    await walk_to_delivery(client, people)
    elsewhere = people.bearer("smb_member", OTHER)
    assert (await client.get("/api/stats", headers=elsewhere)).json()["total"] == 0
    assert (await client.get("/api/decisions", headers=elsewhere)).json()["items"] == []


async def test_a_full_lifecycle_logs_no_personal_data(
    client: httpx.AsyncClient, people: People, caplog: pytest.LogCaptureFixture,
    log_lines: io.StringIO,
) -> None:
    caplog.set_level(logging.DEBUG)
    ref = await walk_to_delivery(client, people)
    officer = people.bearer("disclosure_officer")
    await client.get(f"/api/requests/{ref}/events", headers=officer)
    # Failures too: a refused event and an invalid body with names in it.
    await client.post(f"/api/requests/{ref}/events", json=factories.body("withdraw", reason=(
        f"{APPLICANT} asked")), headers={**officer, "If-Match": '"1"'})
    await client.post("/api/requests", json={**distinctive_request(), "scheme": SUBJECT},
                      headers=officer)
    await client.post("/api/tokens", json={"username": SUBJECT, "password": ADDRESS})
    assert caplog.records, "nothing was logged at all: the capture is not working"
    logged = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    for value in PERSONAL:
        assert value not in logged
    # The lines as written: JSON, each naming its request, with usernames but no party's data.
    written = log_lines.getvalue()
    for value in PERSONAL:
        assert value not in written
    lines = [json.loads(line) for line in written.splitlines()]
    service = [line for line in lines if line["logger"] != "httpx"]
    assert service and all(line["request_id"] for line in service)
    actors = {line.get("actor") for line in service if line["event"] == "request"}
    assert actors == {None, people.username("disclosure_officer"),
                      people.username("decision_maker")}


async def test_reads_are_logged_and_auditors_can_list_them(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    ref = await walk_to_delivery(client, people)
    auditor = people.bearer("auditor")
    before = (await client.get(f"/api/requests/{ref}/views", headers=auditor)).json()["items"]
    decider = people.bearer("decision_maker")
    first = await client.get(f"/api/requests/{ref}", headers=decider)
    await client.get(f"/api/requests/{ref}/events", headers=decider)
    second = await client.get(f"/api/requests/{ref}", headers=decider)
    # Reading changes nothing a writer relies on.
    assert first.headers["ETag"] == second.headers["ETag"]
    views = (await client.get(f"/api/requests/{ref}/views", headers=auditor)).json()["items"]
    new = views[len(before):]
    assert [(v["viewer"], v["endpoint"]) for v in new] == [
        ("decision_maker.derbyshire", "read"), ("decision_maker.derbyshire", "timeline"),
        ("decision_maker.derbyshire", "read"),
    ]
    assert all(v["viewed_at"] for v in new)
    # Another area's auditor cannot learn the request exists.
    assert (await client.get(f"/api/requests/{ref}/views",
                             headers=people.bearer("auditor", OTHER))).status_code == 404

    verdict = (await client.get("/api/audit/verify", headers=auditor)).json()
    assert verdict["ok"] is True and verdict["views_checked"] == len(views)
    async with workflow.db.write() as session, session.begin():
        await session.execute(update(View).where(View.seq == 2).values(viewer="someone.else"))
    broken = (await client.get("/api/audit/verify", headers=auditor)).json()
    assert broken["ok"] is False and broken["reference"] == ref and broken["seq"] == 2
