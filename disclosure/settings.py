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
    # A web session signs out after this long unused.
    session_idle_minutes: float = field(
        default_factory=lambda: float(_env("SESSION_IDLE_MINUTES", "30"))
    )
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the client;
    # from anyone else the header is ignored.
    trusted_proxies: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            p.strip() for p in _env("TRUSTED_PROXIES", "").split(",") if p.strip()
        )
    )
    # How often the app's background jobs run (0: never inside the app; run `disclosure jobs run`).
    jobs_minutes: float = field(default_factory=lambda: float(_env("JOBS_MINUTES", "60")))
    # How long sign-in attempts and ended credentials are kept before the job deletes them.
    prune_after_days: float = field(
        default_factory=lambda: float(_env("PRUNE_AFTER_DAYS", "30"))
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
