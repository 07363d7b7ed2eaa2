"""Migration 0009 indexes the parties already held, so they can be searched at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from disclosure.db import Database
from disclosure.migrations import upgrade
from disclosure.search.matching import FindingPolicy
from disclosure.search.service import Finder
from tests.integration.test_migration_0004 import AT, _sync, empty_url

__all__ = ["empty_url"]


def test_parties_held_before_are_found_after(empty_url: str) -> None:
    upgrade(empty_url, "0006")
    engine = create_engine(_sync(empty_url))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO requests (id, reference, scheme, route, area, channel, summary, state,"
            " immediate_risk, policy_version, received_at, created_at, updated_at, created_by,"
            " version, last_event_hash) VALUES (1, 'DVDS-2026-000001', 'dvds', 'right_to_ask',"
            " 'derbyshire', 'online', 'Concern', 'received', false, 'dvds-2023', :at, :at, :at,"
            " 'pc.one', 1, 'x')"), {"at": AT})
        conn.execute(text(
            "INSERT INTO parties (id, request_id, role, name, date_of_birth, safe_contact, kind)"
            " VALUES (1, 1, 'subject', 'PRICE, Danny', '1985-03-12', NULL, 'person'),"
            " (2, 1, 'applicant', 'Kerry Holt', NULL,"
            " '{\"method\": \"phone\", \"details\": \"07700 900461\"}', 'person')"))
    upgrade(empty_url)
    engine.dispose()

    async def search(q: str) -> list[tuple[str, str | None, str]]:
        db = Database(empty_url)
        try:
            page = await Finder(db, FindingPolicy(), now=lambda: datetime.now(UTC)).search(
                q, area="derbyshire", searcher="pc.one", limit=10, cursor=None)
        finally:
            await db.dispose()
        return [(h.reference, h.matches[0].role, h.matches[0].field) for h in page.items]

    assert asyncio.run(search("Daniel Price")) == [("DVDS-2026-000001", "subject", "name")]
    assert asyncio.run(search("12/03/1985")) == [
        ("DVDS-2026-000001", "subject", "date_of_birth")]
    assert asyncio.run(search("+44 7700 900461")) == [("DVDS-2026-000001", "applicant", "phone")]

