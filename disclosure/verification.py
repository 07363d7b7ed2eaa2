"""Verifying the trail away from the app's event loop.

`audit.verify` is a tight loop of hashing: run on the event loop it would hold up every other
request for as long as it runs. The app hands it to one worker process of its own, started on
the first verification and kept for the next, at a lower scheduling priority than the app, so
the app's own requests are served first while a verification runs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from disclosure import audit
from disclosure.db import Database
from disclosure.keys import TrailKeys

# Added to the worker's niceness: it yields the CPU to the app's processes.
NICENESS = 10


def _lower_priority() -> None:
    os.nice(NICENESS)


def _verify(url: str, keys: TrailKeys, area: str | None) -> audit.Verdict:
    async def run() -> audit.Verdict:
        db = Database(url, keys=keys)
        try:
            return await audit.verify(db, area=area)
        finally:
            await db.dispose()

    return asyncio.run(run())


class Verifier:
    """Verifies the trail of one database in a worker process; `close` stops the worker."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._url = db.engine.url.render_as_string(hide_password=False)
        self._pool: ProcessPoolExecutor | None = None

    async def verify(self, *, area: str | None) -> audit.Verdict:
        """What `audit.verify` finds, worked out in the worker while the loop serves others.
        An in-memory database is not visible to another process, so it is verified here."""
        if self.db.engine.url.database in (None, "", ":memory:"):
            return await audit.verify(self.db, area=area)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority,
            )
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, _verify, self._url, self.db.keys, area
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
