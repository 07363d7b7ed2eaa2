"""Whether this process can serve: a list of checks, each passing or naming what is wrong.

A load balancer sends traffic only to a ready process; the process itself stays up (liveness)
while, say, the database restarts, and becomes ready again without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cache

import msgspec
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from disclosure import keys
from disclosure.db import Database
from disclosure.migrations import alembic_config
from disclosure.settings import Settings

# A check that takes longer than this has failed: a probe must answer quickly.
TIMEOUT_SECONDS = 3.0


class CheckResult(msgspec.Struct, kw_only=True):
    name: str
    ok: bool
    detail: str


class Readiness(msgspec.Struct, kw_only=True):
    ready: bool
    checks: list[CheckResult]


Check = Callable[[Settings, Database], Awaitable[str]]


class NotReady(Exception):
    """A check's finding, said for an operator."""


async def database_answers(settings: Settings, db: Database) -> str:
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return "answers"


@cache
def _heads() -> frozenset[str]:
    # The scripts ship with the code, so the heads are the same for the life of the process.
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def _current(conn: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(conn).get_current_heads())


async def schema_at_head(settings: Settings, db: Database) -> str:
    async with db.engine.connect() as conn:
        current = await conn.run_sync(_current)
    if current != _heads():
        raise NotReady(
            f"schema at {', '.join(sorted(current)) or 'nothing'}, code expects"
            f" {', '.join(sorted(_heads()))}: run `disclosure db upgrade`"
        )
    return f"at {', '.join(sorted(current))}"


async def trail_key_present(settings: Settings, db: Database) -> str:
    try:
        trail = keys.trail_keys_for(settings.database_url, settings.trail_key_file)
    except keys.TrailKeyError as exc:
        raise NotReady(str(exc)) from exc
    return f"current key {trail.current}"


# Each entry is one thing that must hold before this process takes traffic.
CHECKS: dict[str, Check] = {
    "database": database_answers,
    "migrations": schema_at_head,
    "trail_key": trail_key_present,
}


async def _run(name: str, check: Check, settings: Settings, db: Database) -> CheckResult:
    try:
        detail = await asyncio.wait_for(check(settings, db), TIMEOUT_SECONDS)
    except NotReady as exc:
        return CheckResult(name=name, ok=False, detail=str(exc))
    except TimeoutError:
        return CheckResult(name=name, ok=False, detail=f"no answer in {TIMEOUT_SECONDS:g}s")
    except Exception as exc:  # any failure means not ready; say which kind
        # The type only: driver messages can carry connection details.
        return CheckResult(name=name, ok=False, detail=f"failed: {type(exc).__name__}")
    return CheckResult(name=name, ok=True, detail=detail)


async def readiness(settings: Settings, db: Database) -> Readiness:
    results = [await _run(name, check, settings, db) for name, check in CHECKS.items()]
    return Readiness(ready=all(r.ok for r in results), checks=results)
