"""Background jobs: work no request asks for, safe to start from every app process at once.

Each run takes a lock first and skips the job if another process holds it: a PostgreSQL
advisory lock held for the transaction, or on SQLite the write lock every writer takes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import msgspec
from sqlalchemy import text

from disclosure.db import Database
from disclosure.users import Users

log = logging.getLogger("disclosure.jobs")
# pg_try_advisory_xact_lock key of the pruning job ("prune" in ASCII).
PRUNE_LOCK = 0x7072756E65


class Pruned(msgspec.Struct, kw_only=True):
    """What one run deleted; `ran` is false when another process held the job's lock."""

    ran: bool
    login_attempts: int = 0
    credentials: int = 0


async def prune(db: Database, users: Users, *, keep: timedelta) -> Pruned:
    """Delete sign-in attempts and ended credentials older than `keep`."""
    async with db.write() as session, session.begin():
        if db.dialect == "postgresql":
            locked = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PRUNE_LOCK}
            )
            if not locked:
                return Pruned(ran=False)
        attempts, credentials = await users.prune(session, keep=keep)
    return Pruned(ran=True, login_attempts=attempts, credentials=credentials)


async def every(interval: timedelta, db: Database, users: Users, *, keep: timedelta) -> None:
    """Run the jobs now and then every `interval`, until cancelled (the app's lifespan task)."""
    while True:
        try:
            done = await prune(db, users, keep=keep)
            if done.ran:
                log.info("pruned %d sign-in attempts and %d credentials",
                         done.login_attempts, done.credentials)
        except Exception as exc:  # a database away now may be back next time
            log.warning("pruning failed (%s); trying again later", type(exc).__name__)
        await asyncio.sleep(interval.total_seconds())
