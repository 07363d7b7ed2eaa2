"""As a new deployment would: accounts made with the CLI, then a request walked to delivery."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import pytest
from litestar import Litestar

from disclosure import cli
from disclosure.users import CREDENTIAL_CACHE
from disclosure.workflow import Workflow
from tests import factories
from tests.api.conftest import client_for
from tests.conftest import FakeClock

OFFICER_PASSWORD = "officer-passphrase-4471"
DECIDER_PASSWORD = "decider-passphrase-9902"


def run_cli(monkeypatch: pytest.MonkeyPatch, database_url: str, argv: list[str],
            stdin: str = "") -> int:
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(argv)


async def arun_cli(monkeypatch: pytest.MonkeyPatch, database_url: str, argv: list[str],
                   stdin: str = "") -> int:
    """The CLI runs its own event loop, so from an async test it runs in a thread."""
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return await asyncio.to_thread(cli.main, argv)


async def token(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post("/api/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def send(
    client: httpx.AsyncClient, who: dict[str, str], reference: str, version: int, event: str,
    **fields: Any,
) -> httpx.Response:
    return await client.post(
        f"/api/requests/{reference}/events", json=factories.body(event, **fields),
        headers={**who, "If-Match": f'"{version}"'},
    )


async def test_officer_and_decision_maker_walk_a_request_to_delivery(
    monkeypatch: pytest.MonkeyPatch, database_url: str, workflow: Workflow, app: Litestar,
    capsys: pytest.CaptureFixture[str], clock: FakeClock,
) -> None:
    clock.advance(days=10)
    assert await arun_cli(monkeypatch, database_url,
                   ["areas", "add", "derbyshire", "--name", "Derbyshire Constabulary",
                    "--division", "north"]) == 0
    assert await arun_cli(monkeypatch, database_url,
                   ["users", "add", "pc.jones", "--area", "derbyshire",
                    "--role", "disclosure_officer"], OFFICER_PASSWORD + "\n") == 0
    assert await arun_cli(monkeypatch, database_url,
                   ["users", "add", "di.khan", "--area", "derbyshire",
                    "--role", "decision_maker"], DECIDER_PASSWORD + "\n") == 0
    assert await arun_cli(monkeypatch, database_url, ["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "pc.jones\tderbyshire\tdisclosure_officer\tactive" in listing
    assert OFFICER_PASSWORD not in listing

    async with client_for(app) as client:
        officer = await token(client, "pc.jones", OFFICER_PASSWORD)
        decider = await token(client, "di.khan", DECIDER_PASSWORD)

        created = await client.post("/api/requests", json=factories.new_request(),
                                    headers=officer)
        assert created.status_code == 201, created.text
        ref = created.json()["reference"]
        at_risk = next(p["id"] for p in created.json()["parties"]
                       if p["role"] == "person_at_risk")
        version = created.json()["version"]
        for event in ("complete_initial_checks", "record_meeting", "record_check",
                      "complete_checks"):
            answer = await send(client, officer, ref, version, event)
            assert answer.status_code == 200, answer.text
            version = answer.json()["version"]

        # The officer who prepared the case cannot decide to disclose it.
        alone = await send(client, officer, ref, version, "record_decision",
                           recipients=[factories.recipient(at_risk)])
        assert alone.status_code == 403
        assert "decision_maker" in alone.json()["detail"]

        decided = await send(client, decider, ref, version, "record_decision",
                             recipients=[factories.recipient(at_risk)])
        assert decided.status_code == 200, decided.text
        assert decided.json()["state"] == "awaiting_delivery"

        delivered = await send(client, officer, ref, decided.json()["version"],
                               "record_delivery", recipient_party_id=at_risk)
        assert delivered.status_code == 200, delivered.text
        # The mother who applied is told the process has ended; then it closes.
        assert delivered.json()["state"] == "awaiting_notice"
        noticed = await send(client, officer, ref, delivered.json()["version"], "record_notice")
        assert noticed.json()["state"] == "closed"
        assert noticed.json()["outcome"] == "disclosed_to_person_at_risk"

        timeline = (await client.get(f"/api/requests/{ref}/events", headers=officer)).json()
        actors = {e["event"]: e["actor"] for e in timeline}
        assert actors["complete_checks"] == "pc.jones"
        assert actors["record_decision"] == "di.khan"

    # Disabling an account from the command line ends its tokens in the app within the bound
    # of the app's credential cache.
    assert await arun_cli(monkeypatch, database_url, ["users", "disable", "pc.jones"]) == 0
    clock.advance(seconds=CREDENTIAL_CACHE.total_seconds())
    async with client_for(app) as client:
        assert (await client.get("/api/requests", headers=officer)).status_code == 401


@pytest.mark.parametrize("prepared", ["complete_initial_checks", "record_check"])
async def test_an_officer_holding_both_roles_cannot_decide_a_case_they_prepared(
    workflow: Workflow, app: Litestar, people: Any, prepared: str
) -> None:
    """Holding both roles does not get round four eyes: the lifecycle refuses the same person,
    whatever they decide, if they sent any of the steps that prepared the case."""
    from tests.api.conftest import PASSWORD

    await people.users.add("both.roles", password=PASSWORD, area="derbyshire",
                           roles=["disclosure_officer", "decision_maker"], created_by="test")
    async with client_for(app) as client:
        both = await token(client, "both.roles", PASSWORD)
        created = await client.post("/api/requests", json=factories.new_request(), headers=both)
        ref, version = created.json()["reference"], created.json()["version"]
        at_risk = next(p["id"] for p in created.json()["parties"]
                       if p["role"] == "person_at_risk")
        officer = people.bearer("disclosure_officer")
        for event in ("complete_initial_checks", "record_meeting", "record_check",
                      "complete_checks"):
            who = both if event == prepared else officer
            version = (await send(client, who, ref, version, event)).json()["version"]
        for decision in ({"recipients": [factories.recipient(at_risk)]},
                         {"decision": "no_disclosure"}):
            refused = await send(client, both, ref, version, "record_decision", **decision)
            assert refused.status_code == 409, refused.text
            assert refused.json()["detail"] == (
                "record_decision: a decision must be made by someone who prepared nothing on"
                f" this request; both.roles recorded {prepared}")
        decided = await send(client, people.bearer("decision_maker"), ref, version,
                             "record_decision", recipients=[factories.recipient(at_risk)])
        assert decided.status_code == 200, decided.text


def test_cli_refuses_a_short_password_and_an_unknown_area(
    monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(monkeypatch, database_url, ["areas", "add", "derbyshire"]) == 0
    assert run_cli(monkeypatch, database_url, ["users", "add", "x", "--area", "derbyshire",
                                               "--role", "admin"], "short\n") == 2
    assert run_cli(monkeypatch, database_url, ["users", "add", "x", "--area", "nowhere",
                                               "--role", "admin"], "long enough password\n") == 2
    errors = capsys.readouterr().err
    assert "at least 12 characters" in errors and "no area 'nowhere'" in errors
