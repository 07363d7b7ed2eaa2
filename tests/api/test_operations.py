"""Probes, metrics and request ids, as a load balancer, a scraper and an operator see them."""

from __future__ import annotations

import gc
import io
import json
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app, served_app
from disclosure.db import Database
from disclosure.policy import load_policy_book
from disclosure.workflow import Workflow
from tests import factories
from tests.api.conftest import OWN, People, client_for, settings_for
from tests.conftest import FakeClock

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    answer = await client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


async def test_liveness_and_readiness_answer_without_a_credential(
    client: httpx.AsyncClient,
) -> None:
    alive = await client.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["ready"] is True
    assert {c["name"]: c["ok"] for c in ready.json()["checks"]} == {
        "database": True, "migrations": True, "trail_key": True,
    }


async def test_not_ready_without_the_trail_key(workflow: Workflow, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-trail.key"
    app = create_app(settings_for(workflow, trail_key_file=missing), workflow)
    async with client_for(app) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert checks["database"]["ok"] is True and checks["trail_key"]["ok"] is False
    assert str(missing) in checks["trail_key"]["detail"]
    assert "disclosure audit keygen" in checks["trail_key"]["detail"]


async def test_not_ready_on_a_database_that_was_never_migrated(
    tmp_path: Path, clock: FakeClock
) -> None:
    empty = Workflow(
        Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"), load_policy_book(None), now=clock
    )
    try:
        async with client_for(create_app(settings_for(empty), empty)) as client:
            alive = await client.get("/healthz")
            ready = await client.get("/readyz")
    finally:
        await empty.db.dispose()
    assert alive.status_code == 200
    assert ready.status_code == 503
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert checks["database"]["ok"] is True
    assert checks["migrations"]["ok"] is False
    assert "disclosure db upgrade" in checks["migrations"]["detail"]


async def test_metrics_count_transitions_refusals_sign_in_failures_and_workload(
    client: httpx.AsyncClient, people: People
) -> None:
    officer = people.bearer("disclosure_officer")
    before = await scrape(client)
    created = (await client.post("/api/requests", json=factories.new_request(area=OWN),
                                 headers=officer)).json()
    ref = created["reference"]
    sent = await client.post(f"/api/requests/{ref}/events",
                             json=factories.body("complete_initial_checks"),
                             headers={**officer, "If-Match": '"1"'})
    assert sent.status_code == 200
    stale = await client.post(f"/api/requests/{ref}/events", json=factories.body("withdraw"),
                              headers={**officer, "If-Match": '"1"'})
    assert stale.status_code == 412
    wrong = await client.post("/api/tokens", json={"username": "nobody", "password": "nope"})
    assert wrong.status_code == 401
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("disclosure_transitions_total", event="complete_initial_checks") == 1
    assert grew("disclosure_refusals_total", status="412", reason="Stale version") == 1
    assert grew("disclosure_sign_in_failures_total", reason="bad_credentials") == 1
    route = "/api/requests/{reference}/events"
    assert grew("disclosure_http_requests_total", method="POST", path=route, status_code="200",
                app_name="disclosure") == 1
    assert grew("disclosure_http_request_duration_seconds_count", method="POST", path=route,
                status_code="412", app_name="disclosure") == 1
    assert value(after, "disclosure_open_requests", area=OWN, scheme="dvds",
                 state="awaiting_meeting") == 1
    # The request was received on 2 November and the test clock stands on that day.
    assert value(after, "disclosure_queue_requests", area=OWN, scheme="dvds",
                 queue="overdue") == 0
    text = (await client.get("/metrics")).text
    assert ref not in text and "Sample" not in text and people.username("disclosure_officer") \
        not in text


async def test_overdue_requests_are_counted_by_scheme(
    client: httpx.AsyncClient, people: People, clock: FakeClock
) -> None:
    officer = people.bearer("disclosure_officer")
    for scheme in ("dvds", "dvds", "csods"):
        answer = await client.post("/api/requests", headers=officer,
                                   json=factories.new_request(scheme, area=OWN))
        assert answer.status_code == 201
    clock.advance(days=60)
    found = await scrape(client)
    assert value(found, "disclosure_queue_requests", area=OWN, scheme="dvds",
                 queue="overdue") == 2
    assert value(found, "disclosure_queue_requests", area=OWN, scheme="csods",
                 queue="overdue") == 1


async def test_metrics_need_the_scrape_token_when_one_is_set(
    workflow: Workflow, tmp_path: Path
) -> None:
    secret = tmp_path / "metrics-token"
    secret.write_text("scrape-me-please\n")
    app = create_app(settings_for(workflow, metrics_token_file=secret), workflow)
    async with client_for(app) as client:
        refused = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        odd = await client.get("/metrics",
                               headers={"Authorization": "Bearer gu\u00e9ss".encode("latin-1")})
        allowed = await client.get("/metrics",
                                   headers={"Authorization": "Bearer scrape-me-please"})
        probe = await client.get("/healthz")
    assert refused.status_code == 401 and "scrape token" in refused.json()["detail"]
    assert wrong.status_code == 401 and odd.status_code == 401
    assert allowed.status_code == 200 and "disclosure_transitions_total" in allowed.text
    assert probe.status_code == 200


async def test_every_answer_carries_a_request_id_that_every_log_line_names(
    client: httpx.AsyncClient, people: People, log_lines: io.StringIO
) -> None:
    officer = people.bearer("disclosure_officer")
    given = await client.get("/api/requests", headers={**officer, "X-Request-Id": "lb-7f3a.9"})
    made = await client.get("/api/requests", headers=officer)
    insane = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    unknown = await client.get("/no/such/path")
    assert given.headers["X-Request-Id"] == "lb-7f3a.9"
    assert len(made.headers["X-Request-Id"]) == 32
    assert insane.headers["X-Request-Id"] != "bad id\twith spaces"
    assert unknown.status_code == 404 and unknown.headers["X-Request-Id"]
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    access = [line for line in lines if line["event"] == "request"]
    assert [line["request_id"] for line in access] == [
        "lb-7f3a.9", made.headers["X-Request-Id"], insane.headers["X-Request-Id"],
        unknown.headers["X-Request-Id"],
    ]
    assert access[0]["actor"] == people.username("disclosure_officer")
    assert access[0]["route"] == "/api/requests" and access[0]["status"] == 200
    assert "actor" not in access[2] and access[3]["route"] == "unmatched"
    # Every line the service wrote (the test's own HTTP client logs too, outside any request).
    assert all("request_id" in line for line in lines if line["logger"] != "httpx")


async def test_an_unreachable_database_answers_503_and_not_ready_but_alive(
    tmp_path: Path, clock: FakeClock
) -> None:
    # A folder where the database file should be: SQLite cannot open it, as if the server
    # were down.
    (tmp_path / "unreachable.db").mkdir()
    down = Workflow(
        Database(f"sqlite+aiosqlite:///{tmp_path / 'unreachable.db'}"), load_policy_book(None),
        now=clock,
    )
    try:
        async with client_for(create_app(settings_for(down), down)) as client:
            alive = await client.get("/healthz")
            ready = await client.get("/readyz")
            work = await client.get("/api/requests",
                                    headers={"Authorization": "Bearer dsc_any-token"})
    finally:
        await down.db.dispose()
    assert alive.status_code == 200
    assert ready.status_code == 503
    assert [c["ok"] for c in ready.json()["checks"]] == [False, False, True]
    assert ready.json()["checks"][0]["detail"] == "failed: OperationalError"
    assert work.status_code == 503 and work.headers["Retry-After"] == "5"
    assert work.json()["detail"].startswith("the database is not answering")


def test_the_served_app_is_frozen_out_of_the_collectors_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `disclosure serve` runs in each worker: the app, then everything built so far left
    out of the garbage collector's passes, so that a full pass does not stall requests."""
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    gc.unfreeze()
    try:
        app = served_app()
        assert isinstance(app, Litestar)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
