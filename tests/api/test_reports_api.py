"""The board's report and decision reviews over HTTP: formats, bad input, areas and roles."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile

import httpx
import pytest
from sqlalchemy import select

from disclosure.models import View
from disclosure.workflow import Workflow
from tests.api.conftest import OTHER, OWN, People
from tests.api.reviewing import PERIOD, decided

REPORT = "/api/reports/annual"


@pytest.fixture(autouse=True)
def _after_the_example_dates(clock: object) -> None:
    """The factories' events happen up to 7 November 2026; record them after."""
    clock.advance(days=10)  # type: ignore[attr-defined]


async def test_every_format_for_the_roles_that_read_reports(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    await decided(workflow, OWN)
    for role in ("smb_member", "lay_adviser", "auditor", "admin"):
        headers = people.bearer(role)
        answer = await client.get(REPORT, params={"period": PERIOD}, headers=headers)
        assert answer.status_code == 200, (role, answer.text)
        body = answer.json()
        assert body["area"] == OWN and body["period"] == PERIOD
        dvds = next(t for t in body["tables"] if t["id"] == "dvds_return")
        asked = next(r for r in dvds["rows"] if r["id"] == "right_to_ask")["cells"]
        # A lay adviser's report is always suppressed.
        assert asked["applications"] == ("<5" if role == "lay_adviser" else 1)
        assert body["published"] is (role == "lay_adviser")
    headers = people.bearer("smb_member")
    csv = await client.get(REPORT, params={"period": PERIOD, "format": "csv",
                                           "table": "outcomes"}, headers=headers)
    # One charset, not the media type's and the response's both.
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert "disclosed_to_person_at_risk,Disclosed to person at risk,1," in csv.text
    ods = await client.get(REPORT, params={"period": PERIOD, "format": "ods"}, headers=headers)
    assert ods.headers["content-type"] == "application/vnd.oasis.opendocument.spreadsheet"
    assert zipfile.ZipFile(io.BytesIO(ods.content)).read("mimetype") == (
        b"application/vnd.oasis.opendocument.spreadsheet")
    html = await client.get(REPORT, params={"period": PERIOD, "format": "html"},
                            headers=headers)
    assert html.headers["content-type"].startswith("text/html")
    assert "Derbyshire Constabulary" in html.text or OWN in html.text
    # Its own stylesheet is allowed by its hash, and nothing else inline.
    style = re.search(r"<style>(.*?)</style>", html.text, re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    csp = html.headers["Content-Security-Policy"]
    assert f"style-src 'self' 'sha256-{digest}';" in csp
    assert "unsafe-inline" not in csp and "script-src 'self';" in csp
    published = await client.get(REPORT, params={"period": PERIOD, "publish": "true"},
                                 headers=headers)
    assert published.json()["published"] is True


@pytest.mark.parametrize(("params", "field"), [
    ({"period": "2025-27"}, "period"),
    ({"period": "last year"}, "period"),
    ({"period": "2026-03-01..2026-02-01"}, "period"),
    ({"period": "2025-26", "as_at": "yesterday"}, "as_at"),
    ({"period": "2025-26", "as_at": "2026-04-01T00:00:00"}, "as_at"),
    ({"period": "0001-02"}, "period"),
    ({"period": "9999-00"}, "period"),
    ({"period": "0001-01-01..0001-01-02"}, "period"),
    ({"period": "2025-26", "as_at": "0001-01-01T00:00:00Z"}, "as_at"),
    ({"period": "2025-26", "as_at": "9999-12-31T23:59:59Z"}, "as_at"),
    ({"period": "2025-26", "format": "pdf"}, "format"),
    ({"period": "2025-26", "table": "names"}, "table"),
])
async def test_bad_input_is_a_problem_naming_the_field(
    client: httpx.AsyncClient, people: People, params: dict[str, str], field: str
) -> None:
    answer = await client.get(REPORT, params=params, headers=people.bearer("smb_member"))
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in answer.text


async def test_another_area_is_not_found_and_casework_is_refused(
    client: httpx.AsyncClient, people: People
) -> None:
    other = await client.get(REPORT, params={"period": "2025-26", "area": OTHER},
                             headers=people.bearer("smb_member"))
    assert other.status_code == 404 and other.json()["detail"] == f"no area {OTHER}"
    own = await client.get(REPORT, params={"period": "2025-26", "area": OWN},
                           headers=people.bearer("smb_member"))
    assert own.status_code == 200
    for role in ("disclosure_officer", "decision_maker", "mapp_coordinator"):
        refused = await client.get(REPORT, params={"period": "2025-26"},
                                   headers=people.bearer(role))
        assert refused.status_code == 403


@pytest.mark.parametrize("period", ["0001-02", "9999-00", "2025-27"])
async def test_a_sample_of_a_period_outside_the_service_is_refused_and_draws_nothing(
    client: httpx.AsyncClient, people: People, period: str
) -> None:
    smb = people.bearer("smb_member")
    drawn = await client.post("/api/reviews", json={"period": period, "seed": 1}, headers=smb)
    assert drawn.status_code == 400, drawn.text
    assert "period" in drawn.text
    listed = await client.get("/api/reviews", headers=smb)
    assert listed.status_code == 200 and listed.json() == []


async def test_a_review_from_sample_to_completion(
    client: httpx.AsyncClient, people: People, workflow: Workflow
) -> None:
    references = [await decided(workflow, OWN) for _ in range(3)]
    smb, lay, auditor = (people.bearer(r) for r in ("smb_member", "lay_adviser", "auditor"))
    drawn = await client.post("/api/reviews", json={"period": PERIOD, "seed": 42,
                                                    "per_outcome": 2}, headers=smb)
    assert drawn.status_code == 201, drawn.text
    review = drawn.json()
    # Stratified by outcome: at most two of the three disclosures.
    assert [i["outcome"] for i in review["items"]] == ["disclosed_to_person_at_risk"] * 2
    again = await client.post("/api/reviews", json={"period": PERIOD, "seed": 42,
                                                    "per_outcome": 2}, headers=smb)
    assert ([i["decision"]["decision_id"] for i in again.json()["items"]]
            == [i["decision"]["decision_id"] for i in review["items"]])
    item = review["items"][0]
    # Anonymised: answers, codes and times, no reference until released.
    assert item["decision"]["legal_test"]["pressing_need"] is True
    assert item["reference"] is None and item["released"] is False
    for reference in references:
        assert reference not in drawn.text
    url = f"/api/reviews/{review['id']}"
    refused = await client.post(f"{url}/events", json={"event": "complete"},
                                headers={**smb, "If-Match": '"1"'})
    assert refused.status_code == 409, refused.text
    assert (await client.post(f"{url}/events", json={"event": "complete"},
                              headers=smb)).status_code == 428
    finding = {"event": "record_finding", "item": item["id"], "finding": "defensible",
               "notes": "The test is answered part by part"}
    done = await client.post(f"{url}/events", json=finding, headers={**smb, "If-Match": '"1"'})
    assert done.status_code == 200, done.text
    assert done.headers["etag"] == '"2"' and done.json()["state"] == "in_review"
    stale = await client.post(f"{url}/events", json=finding | {"finding": "concerns"},
                              headers={**lay, "If-Match": '"1"'})
    assert stale.status_code == 412
    twice = await client.post(f"{url}/events", json=finding, headers={**smb, "If-Match": '"2"'})
    assert twice.status_code == 400 and "already" in twice.text
    not_auditor = await client.post(f"{url}/events", json={"event": "release_record",
                                                           "item": item["id"]},
                                    headers={**smb, "If-Match": '"2"'})
    assert not_auditor.status_code == 403
    unreleased = f"{url}/decisions/{references[0]}"
    assert (await client.get(unreleased, headers=smb)).status_code == 404
    release = await client.post(f"{url}/events", json={"event": "release_record",
                                                       "item": item["id"]},
                                headers={**auditor, "If-Match": '"2"'})
    assert release.status_code == 200, release.text
    shown = next(i for i in release.json()["items"] if i["id"] == item["id"])
    assert shown["released"] is True and shown["reference"] in references
    # The release is on the request's read trail, and so is each read of the record.
    record = await client.get(f"{url}/decisions/{shown['reference']}", headers=smb)
    assert record.status_code == 200 and "Mark Sample" in record.text
    assert (await client.get(f"{url}/decisions/{shown['reference']}",
                             headers=lay)).status_code == 403
    async with workflow.db.read() as session:
        trail = (await session.execute(select(View.viewer, View.endpoint)
                                       .order_by(View.id))).all()
    assert [tuple(v) for v in trail] == [(people.username("auditor"), "release_record"),
                                         (people.username("smb_member"), "released_decision")]
    second = review["items"][1]
    done = await client.post(f"{url}/events", json=finding | {"item": second["id"],
                                                             "finding": "learning_point"},
                             headers={**lay, "If-Match": '"3"'})
    assert done.status_code == 200, done.text
    complete = await client.post(f"{url}/events", json={"event": "complete"},
                                 headers={**smb, "If-Match": '"4"'})
    assert complete.status_code == 200 and complete.json()["state"] == "completed"
    # The findings roll into the report.
    body = (await client.get(REPORT, params={"period": PERIOD}, headers=smb)).json()
    reviews = next(t for t in body["tables"] if t["id"] == "decision_reviews")
    total = next(r for r in reviews["rows"] if r["id"] == "total")["cells"]
    assert (total["reviewed"], total["defensible"], total["learning_point"],
            total["concerns"]) == (2, 1, 1, 0)
    elsewhere = await client.get(url, headers=people.bearer("smb_member", OTHER))
    assert elsewhere.status_code == 404
