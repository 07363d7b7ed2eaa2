"""Finding people over HTTP, tried as an officer would: search, duplicates at intake, and a
repeat subject turned into a right-to-know review."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from disclosure.models import Request, View
from disclosure.workflow import Workflow
from tests import factories
from tests.api.conftest import People
from tests.api.test_read_trail import views_of


def application(subject: str, at_risk: str, **subject_fields: Any) -> dict[str, Any]:
    body = factories.new_request()
    body["parties"][0] |= {"name": subject, **subject_fields}
    body["parties"][1] |= {"name": at_risk}
    return body


async def test_search_finds_ranks_and_logs(client: httpx.AsyncClient, people: People) -> None:
    officer = people.bearer("disclosure_officer")
    made = (await client.post("/api/requests", json=application("Daniel Price", "Emma Walker"),
                              headers=officer)).json()
    found = await client.get("/api/search", params={"q": "PRICE, Danny"}, headers=officer)
    assert found.status_code == 200
    [hit] = found.json()["items"]
    assert hit["reference"] == made["reference"]
    assert hit["state"] == "received"
    assert hit["matches"][0] | {"similarity": None} == {
        "field": "name", "role": "subject", "name": "Daniel Price", "date_of_birth": None,
        "similarity": None}

    log = await client.get("/api/searches", headers=people.bearer("auditor"))
    [entry] = log.json()["items"]
    assert (entry["searcher"], entry["terms"], entry["shown"]) == (
        people.username("disclosure_officer"), "PRICE, Danny", [made["reference"]])
    # The words searched for are the auditor's to see, nobody else's.
    for role in ("disclosure_officer", "decision_maker", "smb_member", "lay_adviser", "admin"):
        refused = await client.get("/api/searches", headers=people.bearer(role))
        assert refused.status_code == 403, role
        assert "PRICE" not in refused.text


async def test_an_unreadable_search_is_a_400_naming_q(
    client: httpx.AsyncClient, people: People
) -> None:
    answer = await client.get("/api/search", params={"q": "Price 31/02/1985"},
                              headers=people.bearer("disclosure_officer"))
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] == "$.q"
    assert "not a real date" in answer.json()["detail"]


async def test_duplicate_of_another_areas_request_is_refused_naming_the_field(
    client: httpx.AsyncClient, people: People
) -> None:
    theirs = (await client.post(
        "/api/requests", json=factories.new_request(area="durham"),
        headers=people.bearer("disclosure_officer", "durham"))).json()
    ours = (await client.post("/api/requests", json=factories.new_request(),
                              headers=people.bearer("disclosure_officer"))).json()
    answer = await client.post(
        f"/api/requests/{ours['reference']}/events",
        json=factories.body("complete_initial_checks", finding="duplicate",
                            duplicate_of=theirs["reference"]),
        headers={**people.bearer("disclosure_officer"), "If-Match": '"1"'},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "$.duplicate_of"
    assert answer.json()["detail"] == f"duplicate_of: no request {theirs['reference']} in this area"


async def test_three_women_one_man_becomes_a_right_to_know_review(
    client: httpx.AsyncClient, people: People
) -> None:
    officer = people.bearer("disclosure_officer")
    emma = application("Daniel Price", "Emma Walker", date_of_birth="1985-03-12")
    first = (await client.post("/api/requests", json=emma, headers=officer)).json()
    assert first["possible_duplicates"] == [] and first["alerts"] == []

    # A second application, from a different woman, shows the first as a possible duplicate.
    second = (await client.post(
        "/api/requests", json=application("Danny Pryce", "Kerry Holt"), headers=officer)).json()
    assert [(d["reference"], d["state"], d["role"]) for d in second["possible_duplicates"]] == [
        (first["reference"], "received", "subject")]
    assert second["alerts"] == []

    # A third raises a repeat-subject alert.
    third = (await client.post(
        "/api/requests", json=application("PRICE, Daniel", "Sophie Hart"), headers=officer)).json()
    assert len(third["possible_duplicates"]) == 2
    [alert] = third["alerts"]
    queue = (await client.get("/api/alerts", params={"state": "open"}, headers=officer)).json()
    [queued] = queue["items"]
    assert queued["id"] == alert["id"]
    assert [r["reference"] for r in queued["requests"]] == [
        first["reference"], second["reference"], third["reference"]]
    # Nobody in another area sees it.
    elsewhere = await client.get("/api/alerts", headers=people.bearer("disclosure_officer",
                                                                      "durham"))
    assert elsewhere.json()["items"] == []

    review = f"/api/alerts/{alert['id']}/events"
    start = {"event": "start_right_to_know",
             "summary": "Three women in a year have asked about the same man"}
    missing = await client.post(review, json=start, headers=officer)
    assert missing.status_code == 428
    stale = await client.post(review, json=start, headers={**officer, "If-Match": '"9"'})
    assert stale.status_code == 412
    lay = await client.post(review, json=start,
                            headers={**people.bearer("lay_adviser"), "If-Match": '"1"'})
    assert lay.status_code == 403

    # The review starts a right-to-know request linked to all three.
    done = await client.post(review, json=start, headers={**officer, "If-Match": '"1"'})
    assert done.status_code == 200, done.text
    assert done.headers["etag"] == '"2"'
    reviewed = done.json()
    assert (reviewed["state"], reviewed["review"]) == ("reviewed", "right_to_know_started")
    started = (await client.get(f"/api/requests/{reviewed['started_request']}",
                                headers=officer)).json()
    assert started["route"] == "right_to_know"
    assert sorted(link["reference"] for link in started["links"]) == sorted(
        r["reference"] for r in (first, second, third))
    for request in (first, second, third):
        view = (await client.get(f"/api/requests/{request['reference']}", headers=officer)).json()
        assert [(link["kind"], link["reference"]) for link in view["links"]] == [
            ("repeat_subject_review", started["reference"])]

    again = await client.post(review, json={"event": "record_no_action", "reason": "late"},
                              headers={**officer, "If-Match": '"2"'})
    assert again.status_code == 409
    assert "not allowed while the alert is reviewed" in again.json()["detail"]

    # The board counts alerts and how their reviews ended, and sees nobody in them.
    stats = (await client.get("/api/stats", headers=people.bearer("lay_adviser"))).json()
    assert stats["alerts"] == [
        {"kind": "repeat_subject", "state": "reviewed", "review": "right_to_know_started",
         "alerts": 1}]


async def test_a_search_is_logged_once_on_the_search_log_not_the_read_trail(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    officer = people.bearer("disclosure_officer")
    made = (await client.post("/api/requests", json=application("Daniel Price", "Emma Walker"),
                              headers=officer)).json()
    before = await views_of(workflow)
    found = await client.get("/api/search", params={"q": "Daniel Price"}, headers=officer)
    assert [hit["reference"] for hit in found.json()["items"]] == [made["reference"]]
    assert await views_of(workflow) == before
    log = (await client.get("/api/searches", headers=people.bearer("auditor"))).json()
    assert [(e["terms"], e["shown"]) for e in log["items"]] == [
        ("Daniel Price", [made["reference"]])]


async def test_search_and_alerts_refuse_what_they_do_not_take(
    client: httpx.AsyncClient, people: People
) -> None:
    officer = people.bearer("disclosure_officer")
    nul = await client.get("/api/search", params={"q": "Price\x00"}, headers=officer)
    assert nul.status_code == 400
    assert nul.json()["errors"][0]["field"] == "$.q"
    for path, params in (("/api/search", {"q": "Price", "area": "durham"}),
                         ("/api/alerts", {"status": "open"})):
        answer = await client.get(path, params=params, headers=officer)
        assert answer.status_code == 400, path
        assert "not a query parameter here" in answer.json()["detail"]
    log = await client.get("/api/searches", headers=people.bearer("auditor"))
    assert log.json()["items"] == []


async def test_an_alert_review_refuses_nul_a_free_text_division_and_a_weak_etag(
    client: httpx.AsyncClient, people: People
) -> None:
    officer = people.bearer("disclosure_officer")
    for at_risk in ("Emma Walker", "Kerry Holt", "Sophie Hart"):
        made = (await client.post("/api/requests", json=application("Daniel Price", at_risk),
                                  headers=officer)).json()
    [alert] = made["alerts"]
    review = f"/api/alerts/{alert['id']}/events"
    current = {**officer, "If-Match": '"1"'}
    nul = await client.post(review, json={"event": "record_no_action", "reason": "no\x00"},
                            headers=current)
    assert nul.status_code == 400
    assert nul.json()["errors"][0]["field"] == "$.reason"
    division = await client.post(review, json={"event": "start_right_to_know", "summary": "x",
                                               "division": "North Team"}, headers=current)
    assert division.status_code == 400
    assert division.json()["errors"][0]["field"] == "$.division"
    weak = await client.post(review, json={"event": "record_no_action", "reason": "known"},
                             headers={**officer, "If-Match": 'W/"1"'})
    assert weak.status_code == 412
    queue = (await client.get("/api/alerts", params={"state": "open"}, headers=officer)).json()
    assert [a["id"] for a in queue["items"]] == [alert["id"]]


async def test_adding_a_subject_answers_with_the_possible_duplicates(
    client: httpx.AsyncClient, people: People
) -> None:
    officer = people.bearer("disclosure_officer")
    first = (await client.post("/api/requests", json=application("Daniel Price", "Emma Walker"),
                               headers=officer)).json()
    second = (await client.post("/api/requests", json=application("Robert Walsh", "Kerry Holt"),
                                headers=officer)).json()
    assert second["possible_duplicates"] == []
    added = await client.post(
        f"/api/requests/{second['reference']}/events",
        json=factories.body("add_party", party={"role": "subject", "name": "Danny PRYCE"}),
        headers={**officer, "If-Match": '"1"'},
    )
    assert added.status_code == 200, added.text
    [duplicate] = added.json()["possible_duplicates"]
    assert (duplicate["reference"], duplicate["state"], duplicate["role"], duplicate["name"]) == (
        first["reference"], "received", "subject", None)
    found = await client.get("/api/search", params={"q": "Danny Pryce"}, headers=officer)
    assert {hit["reference"] for hit in found.json()["items"]} == {
        first["reference"], second["reference"]}


async def test_the_alert_queue_names_subjects_only_to_casework_and_logs_what_it_shows(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    officer = people.bearer("disclosure_officer")
    made = [(await client.post("/api/requests", json=application("Daniel Price", at_risk),
                               headers=officer)).json()["reference"]
            for at_risk in ("Emma Walker", "Kerry Holt", "Sophie Hart")]
    before = await views_of(workflow)
    queue = await client.get("/api/alerts", headers=officer)
    [alert] = queue.json()["items"]
    assert alert["subject"] == "daniel price"
    # Each request the alert shows is on its read trail, once, for the officer who looked.
    after = await views_of(workflow)
    assert after[len(before):] == [(people.username("disclosure_officer"), "list_alerts")] * 3
    async with workflow.db.read() as session:
        shown = set(await session.scalars(
            select(Request.reference).join(View, View.request_id == Request.id)
            .where(View.endpoint == "list_alerts")))
    assert shown == set(made)
    # Nobody but casework sees the queue, nor the subject's name.
    for role in ("smb_member", "lay_adviser", "auditor", "admin"):
        refused = await client.get("/api/alerts", headers=people.bearer(role))
        assert refused.status_code == 403, role
        assert "price" not in refused.text.lower()
    reviewed = await client.post(
        f"/api/alerts/{alert['id']}/events", json={"event": "record_no_action",
                                                    "reason": "Already under MAPPA"},
        headers={**officer, "If-Match": '"1"'})
    assert reviewed.status_code == 200
    assert (await views_of(workflow))[len(after):] == [
        (people.username("disclosure_officer"), "review_alert")] * 3
