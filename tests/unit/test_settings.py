"""Settings a deployment gives as files: the database password stays out of the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from disclosure.settings import Settings


def test_the_database_password_comes_from_its_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("s3cret/with@odd:chars\n")
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", "postgresql+asyncpg://disclosure@db:5432/d")
    monkeypatch.setenv("DISCLOSURE_REPORTS_DATABASE_URL",
                       "postgresql+asyncpg://disclosure@replica:5432/d")
    monkeypatch.setenv("DISCLOSURE_DATABASE_PASSWORD_FILE", str(secret))
    settings = Settings()
    assert settings.reports_database_url is not None
    for url in (settings.database_url, settings.reports_database_url):
        parsed = make_url(url)
        assert parsed.password == "s3cret/with@odd:chars" and parsed.username == "disclosure"
    assert make_url(settings.reports_database_url).host == "replica"


def test_without_a_replica_reports_read_the_main_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCLOSURE_REPORTS_DATABASE_URL", raising=False)
    monkeypatch.delenv("DISCLOSURE_DATABASE_PASSWORD_FILE", raising=False)
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", "sqlite+aiosqlite:///var/x.db")
    settings = Settings()
    assert settings.reports_database_url is None
    assert settings.database_url == "sqlite+aiosqlite:///var/x.db"
