"""The trail's keys: where they come from, what happens without one, and rotation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from disclosure import keys
from disclosure.cli import main


def test_postgresql_without_a_key_file_is_refused() -> None:
    with pytest.raises(keys.TrailKeyError, match="DISCLOSURE_TRAIL_KEY_FILE is not set"):
        keys.trail_keys_for("postgresql+asyncpg://postgres@db/disclosure", None)


def test_commands_refuse_postgresql_without_a_key_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", "postgresql+asyncpg://postgres@db/disclosure")
    monkeypatch.delenv("DISCLOSURE_TRAIL_KEY_FILE", raising=False)
    assert main(["db", "upgrade"]) == 2
    assert capsys.readouterr().err.startswith(
        "disclosure: DISCLOSURE_TRAIL_KEY_FILE is not set: on PostgreSQL the trail's key must be"
    )


def test_sqlite_makes_its_key_beside_the_database_readable_by_its_owner(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'disclosure.db'}"
    made = keys.trail_keys_for(url, None)
    path = tmp_path / "trail.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = keys.trail_keys_for(url, None)
    assert made.sign(b"x") == again.sign(b"x"), "the same key on the next start"


def test_a_named_key_file_that_is_missing_is_not_made(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.key"
    with pytest.raises(keys.TrailKeyError, match="cannot read the trail key file"):
        keys.trail_keys_for(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}", missing)
    assert not missing.exists()


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "trail.key"
    keys.create_trail_key_file(path)
    before = keys.load_trail_keys(path)
    old_mac = before.sign(b"event")
    new_id = keys.rotate_trail_key(path)
    after = keys.load_trail_keys(path)
    assert after.current == new_id != before.current
    assert after.mac(before.current, b"event") == old_mac
    assert after.sign(b"event") != old_mac
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_malformed_key_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "trail.key"
    path.write_text("k1 not-hex\n")
    with pytest.raises(keys.TrailKeyError, match="line 1: expected"):
        keys.load_trail_keys(path)


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "trail.key"
    keys.create_trail_key_file(path)
    with pytest.raises(FileExistsError):
        keys.create_trail_key_file(path)
