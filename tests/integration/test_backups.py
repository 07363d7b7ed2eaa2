"""`disclosure backup` then `disclosure restore` into a new database: the trail verifies there."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from disclosure.cli import main
from disclosure.db import Database
from disclosure.errors import NotFound
from disclosure.migrations import upgrade
from disclosure.policy import load_policy_book
from disclosure.workflow import Workflow
from tests.conftest import FakeClock, scratch_database
from tests.factories import new, payload


async def _casework(workflow: Workflow) -> list[str]:
    references = []
    for _ in range(3):
        view = await workflow.create(new(), actor="officer.ann")
        await workflow.apply(view.reference, payload("complete_initial_checks"),
                             actor="officer.ann", expected_version=1)
        references.append(view.reference)
    return references


@pytest.fixture
def restore_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database on the same backend as `database_url`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'disclosure.db'}"
        return
    with scratch_database(database_url, "disclosure_restore") as url:
        yield url


async def _cli(monkeypatch: pytest.MonkeyPatch, url: str, *argv: str) -> int:
    """The command, run as from a shell: in its own thread, with its own event loop."""
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", url)
    return await asyncio.to_thread(main, list(argv))


async def test_a_restored_backup_verifies_and_holds_every_request(
    workflow: Workflow, database_url: str, restore_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    references = await _casework(workflow)
    saved = tmp_path / "disclosure.backup"
    assert await _cli(monkeypatch, database_url, "backup", "-o", str(saved)) == 0
    assert saved.stat().st_size > 0
    # Casework carries on after the backup; the restore holds the moment it was taken.
    later = await workflow.create(new(), actor="officer.ann")

    assert await _cli(monkeypatch, restore_url, "restore", str(saved)) == 0
    out = capsys.readouterr().out
    assert "OK: 6 events in 3 requests" in out

    restored = Workflow(Database(restore_url), load_policy_book(None), now=workflow.now)
    try:
        for reference in references:
            assert (await restored.get(reference)).state == "awaiting_meeting"
        with pytest.raises(NotFound):
            await restored.get(later.reference)
    finally:
        await restored.db.dispose()


async def test_restore_refuses_a_database_that_holds_data_unless_forced(
    workflow: Workflow, database_url: str, restore_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    await _casework(workflow)
    saved = tmp_path / "disclosure.backup"
    assert await _cli(monkeypatch, database_url, "backup", "-o", str(saved)) == 0
    assert await _cli(monkeypatch, database_url, "backup", "-o", str(saved)) == 2
    assert "give --force to replace it" in capsys.readouterr().err

    assert await _cli(monkeypatch, database_url, "restore", str(saved)) == 2
    assert "holds data; give --force" in capsys.readouterr().err
    assert await _cli(monkeypatch, database_url, "restore", "--force", str(saved)) == 0
    assert "OK: 6 events in 3 requests" in capsys.readouterr().out


async def test_a_backup_edited_after_it_was_taken_fails_verification(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    await asyncio.to_thread(upgrade, live)
    workflow = Workflow(Database(live), load_policy_book(None), now=clock)
    try:
        [first, *_] = await _casework(workflow)
    finally:
        await workflow.db.dispose()
    saved = tmp_path / "disclosure.backup"
    assert await _cli(monkeypatch, live, "backup", "-o", str(saved)) == 0
    with closing(sqlite3.connect(saved)) as edited, edited:
        edited.execute("UPDATE events SET actor = 'someone.else' WHERE seq = 2")
    target = f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
    assert await _cli(monkeypatch, target, "restore", str(saved)) == 1
    assert f"BROKEN: {first}: event 2" in capsys.readouterr().out


async def test_restore_refuses_a_file_that_is_not_a_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database at all, but long enough to have a header " * 20)
    target = f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
    assert await _cli(monkeypatch, target, "restore", str(junk)) == 2
    assert "is not a SQLite backup" in capsys.readouterr().err


async def test_a_restore_proves_itself_against_the_checkpoints(
    workflow: Workflow, database_url: str, restore_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISCLOSURE_CHECKPOINT_KEY_FILE", str(tmp_path / "checkpoint.key"))
    assert await _cli(monkeypatch, database_url, "audit", "keygen") == 0
    await _casework(workflow)
    folder = tmp_path / "checkpoints"
    assert await _cli(monkeypatch, database_url, "audit", "checkpoint", "-o", str(folder)) == 0
    saved = tmp_path / "disclosure.backup"
    assert await _cli(monkeypatch, database_url, "backup", "-o", str(saved)) == 0
    capsys.readouterr()

    assert await _cli(
        monkeypatch, restore_url, "restore", "--checkpoints", str(folder), str(saved)
    ) == 0
    assert "OK: extends checkpoint-" in capsys.readouterr().out

    # A checkpoint taken after the backup names what the older backup does not hold.
    await workflow.create(new(), actor="officer.ann")
    assert await _cli(monkeypatch, database_url, "audit", "checkpoint", "-o", str(folder)) == 0
    assert await _cli(
        monkeypatch, restore_url, "restore", "--force", "--checkpoints", str(folder), str(saved)
    ) == 1
    assert "BROKEN: checkpoint-" in capsys.readouterr().out
