"""Migration 0018: each area's distinct names, matched once each by a name search, made from
the terms already held and kept by a trigger as terms are written; and removed by a downgrade."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from disclosure.migrations import alembic_config, upgrade
from tests.integration.test_migration_0004 import _sync, empty_url
from tests.integration.test_migration_0015 import _found, insert_named

__all__ = ["empty_url"]


def _insert(url: str, rid: int, area: str, name: str) -> None:
    insert_named(url, rid, area, name, name.lower())


def _names(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(_sync(url))
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT area, field, term FROM search_names ORDER BY area, term")).all()
    engine.dispose()
    return [tuple(row) for row in found]


def _exact_index(url: str) -> str:
    engine = create_engine(_sync(url))
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_search_terms_exact'"
        )).scalar_one()
    engine.dispose()
    return str(found)


def test_names_held_before_and_written_after_are_found_once_each(empty_url: str) -> None:
    upgrade(empty_url, "0017")
    # The same name twice in one area, and once in another.
    _insert(empty_url, 1, "derbyshire", "Daniel Price")
    _insert(empty_url, 2, "derbyshire", "Daniel Price")
    _insert(empty_url, 3, "durham", "Daniel Price")
    postgres = not empty_url.startswith("sqlite")

    upgrade(empty_url, "0018")
    if postgres:
        assert _names(empty_url) == [("derbyshire", "name", "daniel price"),
                                     ("durham", "name", "daniel price")]
        assert "INCLUDE (request_id, party_id, role)" in _exact_index(empty_url)
    assert _found(empty_url, "Daniel Pryce", "derbyshire") == [
        "DVDS-2026-000002", "DVDS-2026-000001"]
    assert _found(empty_url, "Daniel Pryce", "durham") == ["DVDS-2026-000003"]

    # Written after: the trigger adds the new name, not the one already held.
    _insert(empty_url, 4, "durham", "Zoe Smith")
    _insert(empty_url, 5, "durham", "Daniel Price")
    if postgres:
        assert _names(empty_url) == [("derbyshire", "name", "daniel price"),
                                     ("durham", "name", "daniel price"),
                                     ("durham", "name", "zoe smith")]
    assert _found(empty_url, "Zoe Smyth", "durham") == ["DVDS-2026-000004"]
    assert _found(empty_url, "Daniel Price", "durham") == [
        "DVDS-2026-000005", "DVDS-2026-000003"]

    command.downgrade(alembic_config(empty_url), "0017")
    if postgres:
        assert "INCLUDE" not in _exact_index(empty_url)
        engine = create_engine(_sync(empty_url))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('search_names')")).scalar() is None
        engine.dispose()
