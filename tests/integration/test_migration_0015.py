"""Migration 0015 moves the trigram index to one led by the area, and 0017 moves the terms into
partitions by area; what was held before is found after, and after a downgrade and upgrade."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import create_engine, text

from disclosure.db import Database
from disclosure.migrations import alembic_config, upgrade
from disclosure.search.matching import FindingPolicy
from disclosure.search.service import Finder
from tests.integration.test_migration_0004 import AT, _sync, empty_url

__all__ = ["empty_url"]


def _found(url: str, q: str, area: str) -> list[str]:
    async def search() -> list[str]:
        db = Database(url)
        try:
            page = await Finder(db, FindingPolicy(), now=lambda: datetime.now(UTC)).search(
                q, area=area, searcher="pc.one", limit=10, cursor=None)
        finally:
            await db.dispose()
        return [hit.reference for hit in page.items]

    return asyncio.run(search())


def _trigram_indexes(url: str) -> list[str]:
    engine = create_engine(_sync(url))
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'search_terms'"
            " AND indexdef LIKE '%gin_trgm_ops%' ORDER BY indexname")).scalars().all()
    engine.dispose()
    return list(found)


def test_names_held_before_are_found_after_and_after_a_downgrade(empty_url: str) -> None:
    upgrade(empty_url, "0014")
    for rid, area in ((1, "derbyshire"), (2, "durham")):
        insert_named(empty_url, rid, area, "PRICE, Danny", "daniel price")
    postgres = not empty_url.startswith("sqlite")
    if postgres:
        assert _trigram_indexes(empty_url) == ["ix_search_terms_trgm"]

    # The search of today needs the names of 0018: at 0015 the index is checked, and the
    # names held are found once the schema is at the head.
    upgrade(empty_url, "0015")
    if postgres:
        assert _trigram_indexes(empty_url) == ["ix_search_terms_area_trgm"]
        assert _partitions(empty_url) == 0

    # 0017: the terms move into partitions by area, ids kept, the sequence still theirs.
    upgrade(empty_url)
    assert _found(empty_url, "Daniel Pryce", "derbyshire") == ["DVDS-2026-000001"]
    assert _found(empty_url, "Daniel Pryce", "durham") == ["DVDS-2026-000002"]
    if postgres:
        assert _trigram_indexes(empty_url) == ["ix_search_terms_trgm"]
        assert _partitions(empty_url) == 16
        assert _added_term_id(empty_url) > 2

    command.downgrade(alembic_config(empty_url), "0014")
    if postgres:
        assert _trigram_indexes(empty_url) == ["ix_search_terms_trgm"]
        assert _partitions(empty_url) == 0
    upgrade(empty_url)
    assert _found(empty_url, "Daniel Pryce", "derbyshire") == ["DVDS-2026-000001"]
    assert _found(empty_url, "Daniel Pryce", "durham") == ["DVDS-2026-000002"]


def _partitions(url: str) -> int:
    engine = create_engine(_sync(url))
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'search_terms'::regclass"
        )).scalar_one()
    engine.dispose()
    return int(found)


def _added_term_id(url: str) -> int:
    """The id a term written after the move gets from the table's sequence."""
    engine = create_engine(_sync(url))
    with engine.begin() as conn:
        found = conn.execute(text(
            "INSERT INTO search_terms (request_id, party_id, area, role, field, term)"
            " VALUES (1, 1, 'derbyshire', 'subject', 'date_of_birth', '1980-01-01')"
            " RETURNING id")).scalar_one()
    engine.dispose()
    return int(found)


def insert_named(url: str, rid: int, area: str, name: str, term: str) -> None:
    """A request of the area naming one subject, with the name's search term."""
    engine = create_engine(_sync(url))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO requests (id, reference, scheme, route, area, channel, summary,"
            " state, immediate_risk, policy_version, received_at, created_at, updated_at,"
            " created_by, version, last_event_hash) VALUES (:id, :ref, 'dvds',"
            " 'right_to_ask', :area, 'online', 'Concern', 'received', false, 'dvds-2023',"
            " :at, :at, :at, 'pc.one', 1, 'x')"),
            {"id": rid, "ref": f"DVDS-2026-{rid:06d}", "area": area, "at": AT})
        conn.execute(text(
            "INSERT INTO parties (id, request_id, role, name, kind)"
            " VALUES (:id, :id, 'subject', :name, 'person')"), {"id": rid, "name": name})
        conn.execute(text(
            "INSERT INTO search_terms (request_id, party_id, area, role, field, term)"
            " VALUES (:id, :id, :area, 'subject', 'name', :term)"),
            {"id": rid, "area": area, "term": term})
    engine.dispose()
