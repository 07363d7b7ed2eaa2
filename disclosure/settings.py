"""The one settings object, read from DISCLOSURE_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(f"DISCLOSURE_{name}", default)


@dataclass(frozen=True)
class Settings:
    """Service configuration; every field has a DISCLOSURE_<NAME> variable."""

    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", "sqlite+aiosqlite:///var/disclosure.db")
    )
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", "262144")))
    policy_file: Path | None = field(
        default_factory=lambda: Path(p) if (p := _env("POLICY_FILE", "")) else None
    )
    debug: bool = field(default_factory=lambda: _env("DEBUG", "") == "1")
    # Session cookies are Secure unless this is 0 (plain-HTTP development only).
    cookie_secure: bool = field(default_factory=lambda: _env("COOKIE_SECURE", "1") != "0")
    # Send Strict-Transport-Security on every answer (set it when a TLS proxy is in front);
    # requests that arrive over https get it anyway.
    hsts: bool = field(default_factory=lambda: _env("HSTS", "") == "1")
    session_hours: float = field(default_factory=lambda: float(_env("SESSION_HOURS", "8")))
    token_days: float = field(default_factory=lambda: float(_env("TOKEN_DAYS", "30")))
    login_max_failures: int = field(
        default_factory=lambda: int(_env("LOGIN_MAX_FAILURES", "5"))
    )
    lockout_minutes: float = field(default_factory=lambda: float(_env("LOCKOUT_MINUTES", "15")))
    login_source_limit: int = field(
        default_factory=lambda: int(_env("LOGIN_SOURCE_LIMIT", "30"))
    )

    # Finding people: what a search shows, what counts as the same person, and when a subject
    # is a repeat subject (docs/search.md explains each default).
    search_threshold: float = field(
        default_factory=lambda: float(_env("SEARCH_THRESHOLD", "0.4"))
    )
    same_person_with_dob: float = field(
        default_factory=lambda: float(_env("SAME_PERSON_WITH_DOB", "0.4"))
    )
    same_person_name: float = field(
        default_factory=lambda: float(_env("SAME_PERSON_NAME", "0.7"))
    )
    repeat_requests: int = field(default_factory=lambda: int(_env("REPEAT_REQUESTS", "3")))
    repeat_persons_at_risk: int = field(
        default_factory=lambda: int(_env("REPEAT_PERSONS_AT_RISK", "2"))
    )
    repeat_window_days: int = field(
        default_factory=lambda: int(_env("REPEAT_WINDOW_DAYS", "365"))
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
