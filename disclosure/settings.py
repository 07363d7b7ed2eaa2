"""The one settings object, read from DISCLOSURE_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url


def _env(name: str, default: str) -> str:
    return os.environ.get(f"DISCLOSURE_{name}", default)


def _path(name: str) -> Path | None:
    return Path(value) if (value := _env(name, "")) else None


def _with_password(url: str) -> str:
    """The URL with the password from DISCLOSURE_DATABASE_PASSWORD_FILE, if that is set, so
    that a deployment keeps the password in a secret file rather than in its environment."""
    secret = _path("DATABASE_PASSWORD_FILE")
    if secret is None or url.startswith("sqlite"):
        return url
    password = secret.read_text().strip()
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def _database_url() -> str:
    return _with_password(_env("DATABASE_URL", "sqlite+aiosqlite:///var/disclosure.db"))


def _reports_database_url() -> str | None:
    url = _env("REPORTS_DATABASE_URL", "")
    return _with_password(url) if url else None


@dataclass(frozen=True)
class Settings:
    """Service configuration; every field has a DISCLOSURE_<NAME> variable."""

    database_url: str = field(default_factory=_database_url)
    # A read replica for statistics and oversight reads; the main database when unset.
    reports_database_url: str | None = field(default_factory=_reports_database_url)
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", "262144")))
    policy_file: Path | None = field(default_factory=lambda: _path("POLICY_FILE"))
    # The trail's secret key file (keys every event, view and row seal). Unset on SQLite: a
    # `trail.key` beside the database file, made on first use; PostgreSQL refuses to start.
    trail_key_file: Path | None = field(default_factory=lambda: _path("TRAIL_KEY_FILE"))
    # The Ed25519 key that signs checkpoints. Unset on SQLite: `checkpoint.key` beside the
    # database file (made by `disclosure audit keygen`).
    checkpoint_key_file: Path | None = field(
        default_factory=lambda: _path("CHECKPOINT_KEY_FILE")
    )
    debug: bool = field(default_factory=lambda: _env("DEBUG", "") == "1")
    # Published reports show counts below this as "<N" (docs/metrics.md).
    suppress_below: int = field(default_factory=lambda: int(_env("SUPPRESS_BELOW", "5")))
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
    # A file holding the bearer token a Prometheus scraper must send to /metrics; unset, the
    # endpoint is open and must be kept off the public network by the proxy in front.
    metrics_token_file: Path | None = field(default_factory=lambda: _path("METRICS_TOKEN_FILE"))
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO").upper())

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
