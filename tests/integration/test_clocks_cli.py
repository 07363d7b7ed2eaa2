"""`disclosure clocks recompute --dry-run`: which open requests an override would move."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from disclosure.cli import main
from disclosure.db import Database
from disclosure.policy import load_policy_book
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.factories import new, payload

OVERRIDE = """
[[version]]
code = "dvds-2023"
overall = { amount = 21, unit = "calendar_days" }
"""


async def seed(url: str) -> None:
    workflow = Workflow(
        Database(url), load_policy_book(None), now=FakeClock(datetime(2026, 11, 2, 12, tzinfo=UTC))
    )
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


def test_recompute_without_dry_run_writes_nothing_and_says_so(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    assert main(["clocks", "recompute"]) == 2
    assert "run it with --dry-run" in capsys.readouterr().err


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
