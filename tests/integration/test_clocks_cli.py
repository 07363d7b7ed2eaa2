"""`disclosure clocks recompute`: which open requests an override would move, and moving them
on their trail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from disclosure import timeliness
from disclosure.cli import _recompute_one, main
from disclosure.db import Database
from disclosure.policy import PolicySettings, load_policy_book
from disclosure.workflow import Filters, Workflow
from tests.conftest import FakeClock
from tests.factories import new, payload, utc

OVERRIDE = """
[[version]]
code = "dvds-2023"
overall = { amount = 21, unit = "calendar_days" }
"""


RECEIVED = datetime(2026, 11, 2, 12, tzinfo=UTC)
# Past the overridden due date (23 November), not yet past the built-in one (30 November).
LATE_NOVEMBER = datetime(2026, 11, 25, 12, tzinfo=UTC)


def workflow_at(url: str, when: datetime, policy: PolicySettings | None = None) -> Workflow:
    return Workflow(Database(url), policy or load_policy_book(None), now=FakeClock(when))


async def seed(url: str) -> None:
    workflow = workflow_at(url, RECEIVED)
    await workflow.create(new(), actor="officer.ann")
    closed = await workflow.create(new(), actor="officer.ann")
    await workflow.apply(closed.reference, payload("withdraw"), actor="officer.ann",
                         expected_version=1)
    await workflow.create(new("csods"), actor="officer.ann")
    await workflow.db.dispose()


def test_dry_run_lists_open_requests_the_override_would_move(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(seed(database_url))
    override = tmp_path / "policy.toml"
    override.write_text(OVERRIDE)
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)

    assert main(["clocks", "recompute", "--dry-run", "--policy-file", str(override)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "DVDS-2026-000001: due 2026-11-30 23:59 GMT → 2026-11-23 23:59 GMT",
        f"1 open request would change under {override}; nothing was written",
    ]
    assert main(["clocks", "recompute", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("0 open requests would change")


async def overdue(url: str, policy: PolicySettings) -> list[str]:
    workflow = workflow_at(url, LATE_NOVEMBER, policy)
    try:
        page = await workflow.search(Filters(queue="overdue"), limit=50, cursor=None)
        return [item.reference for item in page.items]
    finally:
        await workflow.db.dispose()


async def trails(url: str) -> dict[str, list[tuple[str, str, dict[str, object] | None]]]:
    workflow = workflow_at(url, LATE_NOVEMBER)
    try:
        return {
            ref: [(e.event, e.actor, e.payload) for e in await workflow.events(ref)]
            for ref in ("DVDS-2026-000001", "DVDS-2026-000002", "CSODS-2026-000001")
        }
    finally:
        await workflow.db.dispose()


def test_recompute_stores_the_new_due_dates_on_the_trail(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(seed(database_url))
    override = tmp_path / "policy.toml"
    override.write_text(OVERRIDE)
    policy = load_policy_book(override)
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    monkeypatch.setenv("DISCLOSURE_POLICY_FILE", str(override))
    before = asyncio.run(trails(database_url))
    assert asyncio.run(overdue(database_url, policy)) == []

    assert main(["clocks", "recompute"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "DVDS-2026-000001: due 2026-11-30 23:59 GMT → 2026-11-23 23:59 GMT",
        f"1 open request changed under {override}, each with a recompute_clock event",
    ]
    assert err == ""

    after = asyncio.run(trails(database_url))
    assert after["DVDS-2026-000001"][:-1] == before["DVDS-2026-000001"]
    assert after["DVDS-2026-000001"][-1] == ("recompute_clock", "system:clocks", {
        "event": "recompute_clock", "reason": f"policy override {override}",
        "old_due_at": "2026-11-30T23:59:59.999999Z", "new_due_at": "2026-11-23T23:59:59.999999Z",
        "old_stage_due_at": "2026-11-03T09:00:00Z", "new_stage_due_at": "2026-11-03T09:00:00Z",
    })
    # Closed requests, and open ones the override does not move, get no event.
    assert after["DVDS-2026-000002"] == before["DVDS-2026-000002"]
    assert after["CSODS-2026-000001"] == before["CSODS-2026-000001"]
    # The queues read the stored dates, so the request is overdue at once.
    assert asyncio.run(overdue(database_url, policy)) == ["DVDS-2026-000001"]
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("OK: 5 events in 3 requests")

    # Nothing is left to move: a second run writes nothing.
    assert main(["clocks", "recompute", "--actor", "ops.carol"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"0 open requests changed under {override}, each with a recompute_clock event",
    ]
    assert asyncio.run(trails(database_url)) == after


def test_recompute_under_another_file_than_the_configured_one_warns(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(seed(database_url))
    override = tmp_path / "policy.toml"
    override.write_text(OVERRIDE)
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    monkeypatch.delenv("DISCLOSURE_POLICY_FILE", raising=False)

    assert main(["clocks", "recompute", "--policy-file", str(override),
                 "--actor", "ops.carol"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("DVDS-2026-000001: due 2026-11-30 23:59 GMT → 2026-11-23 23:59 GMT")
    assert f"{override} is not the configured policy (the built-in policy)" in err
    event, actor, _ = asyncio.run(trails(database_url))["DVDS-2026-000001"][-1]
    assert (event, actor) == ("recompute_clock", "ops.carol")


async def test_a_request_that_moved_on_is_read_again(database_url: str, tmp_path: Path) -> None:
    await seed(database_url)
    override = tmp_path / "policy.toml"
    override.write_text(OVERRIDE)
    policy = load_policy_book(override)
    recomputing = workflow_at(database_url, LATE_NOVEMBER, policy)
    # The old policy still running elsewhere: its events leave the old dates in place.
    service = workflow_at(database_url, LATE_NOVEMBER)
    try:
        async with recomputing.db.read() as session:
            [change] = await timeliness.recompute(session, policy)
        await service.apply(change.reference, payload("record_partner_request"),
                            actor="officer.ann", expected_version=change.version)

        done = await _recompute_one(recomputing, change, actor="system:clocks", reason="test")
        assert done is not None and done.version == change.version + 1
        view = await recomputing.get(change.reference)
        assert (view.version, view.due_at) == (3, utc("2026-11-23T23:59:59.999999Z"))

        # An event that stays in its state keeps the dates stored, whichever policy sent it.
        await service.apply(change.reference, payload("record_partner_request"),
                            actor="officer.ann", expected_version=3)
        assert (await recomputing.get(change.reference)).due_at == utc(
            "2026-11-23T23:59:59.999999Z")
        # A change of state under the old policy puts the old dates back; then a change of
        # state under the new one stores the new dates itself before the recompute gets there.
        await service.apply(change.reference, payload("complete_initial_checks"),
                            actor="officer.ann", expected_version=4)
        async with recomputing.db.read() as session:
            [change] = await timeliness.recompute(session, policy)
        await recomputing.apply(change.reference, payload("record_meeting"),
                                actor="officer.ann", expected_version=change.version)
        assert await _recompute_one(
            recomputing, change, actor="system:clocks", reason="test"
        ) is None
        assert [e.event for e in await recomputing.events(change.reference)][-1] == (
            "record_meeting"
        )
    finally:
        await recomputing.db.dispose()
        await service.db.dispose()


def test_a_bad_override_is_refused_naming_the_key(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    override = tmp_path / "policy.toml"
    override.write_text(
        '[[version]]\ncode = "dvds-2023"\noverall = { amount = 3, unit = "weeks" }\n'
    )
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    assert main(["clocks", "recompute", "--dry-run", "--policy-file", str(override)]) == 2
    assert "version[0].overall.unit: expected one of" in capsys.readouterr().err
