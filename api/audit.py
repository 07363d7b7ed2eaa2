"""The audit trail's verification over HTTP."""

from __future__ import annotations

from litestar import get

from disclosure import audit
from disclosure.workflow import Workflow


@get("/api/audit/verify", tags=["audit"])
async def verify_trail(workflow: Workflow) -> audit.Verdict:
    """Walk every request's hash chain; OK or the first broken link."""
    async with workflow.db.read() as session:
        return await audit.verify(session)
