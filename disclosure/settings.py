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
    dev_actor: str = field(default_factory=lambda: _env("DEV_ACTOR", "dev.officer"))
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", "262144")))
    policy_file: Path | None = field(
        default_factory=lambda: Path(p) if (p := _env("POLICY_FILE", "")) else None
    )
    debug: bool = field(default_factory=lambda: _env("DEBUG", "") == "1")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
