"""Applications made online by members of the public: the form's rate limits, counted in the
database so that every app process shares them, and nothing kept that names anyone."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, func, insert, select, text

from disclosure.db import Database
from disclosure.models import OnlineApplication

HOUR = timedelta(hours=1)
# Rows older than this count for nothing and are deleted as new ones come in.
KEEP = timedelta(days=1)
# The PostgreSQL advisory lock (a signed 64-bit key) that admissions queue on: the hour's
# allowance is shared by every address, so each count-and-record is made alone.
ADMIT_LOCK: Final = int(struct.unpack(
    ">q", hashlib.sha256(b"online-applications:admit").digest()[:8])[0])


@dataclass(frozen=True)
class OnlineLimits:
    per_source_per_hour: int
    per_hour: int


def source_digest(source: str, at: datetime) -> str:
    """Where an application came from, as a digest salted by the day: enough to count one
    address's applications, not to keep the address."""
    return hashlib.sha256(f"{at:%Y-%m-%d}:{source}".encode()).hexdigest()


class OnlineApplications:
    def __init__(self, db: Database, limits: OnlineLimits, *, now: Callable[[], datetime]) -> None:
        self.db = db
        self.limits = limits
        self.now = now

    async def admit(self, source: str) -> bool:
        """Count one application from `source`, or refuse it (False) when this address or the
        whole form has had its hour's allowance.

        Counting and recording are one step for every app process: SQLite's write lock
        (BEGIN IMMEDIATE) serialises writers, and on PostgreSQL a transaction-scoped advisory
        lock does, so two applications at once cannot both take the last place.
        """
        now = self.now()
        digest = source_digest(source, now)
        since = now - HOUR
        async with self.db.write() as session, session.begin():
            if self.db.dialect == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                      {"k": ADMIT_LOCK})
            await session.execute(
                delete(OnlineApplication).where(OnlineApplication.submitted_at < now - KEEP)
            )
            from_source = await session.scalar(
                select(func.count()).where(OnlineApplication.source_digest == digest,
                                           OnlineApplication.submitted_at >= since)
            )
            overall = await session.scalar(
                select(func.count()).where(OnlineApplication.submitted_at >= since)
            )
            if (from_source or 0) >= self.limits.per_source_per_hour or (
                overall or 0
            ) >= self.limits.per_hour:
                return False
            await session.execute(
                insert(OnlineApplication), {"source_digest": digest, "submitted_at": now}
            )
        return True
