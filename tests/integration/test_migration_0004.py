"""Migration 0004 carries decisions, deliveries and parties recorded before it forward."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from disclosure.migrations import upgrade
from tests.conftest import _require_postgres

AT = "2026-11-05 10:00:00"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    server = make_url(_require_postgres())
    name = f"disclosure_migration_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _sync(url: str) -> str:
    driver = "sqlite" if url.startswith("sqlite") else "postgresql+psycopg"
    return make_url(url).set(drivername=driver).render_as_string(hide_password=False)


def test_a_decision_recorded_before_becomes_one_settled_recipient(empty_url: str) -> None:
    upgrade(empty_url, "0003")
    engine = create_engine(_sync(empty_url))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO requests (id, reference, scheme, route, area, channel, summary, state,"
            " immediate_risk, policy_version, received_at, created_at, updated_at, created_by,"
            " version, last_event_hash) VALUES (1, 'DVDS-2026-000001', 'dvds', 'right_to_ask',"
            " 'derbyshire', 'online', 'Concern', 'closed', false, 'dvds-2023', :at, :at, :at,"
            " 'pc.one', 7, 'x')"), {"at": AT})
        conn.execute(text(
            "INSERT INTO parties (id, request_id, role, name) VALUES (1, 1, 'subject', 'S'),"
            " (2, 1, 'person_at_risk', 'P'), (3, 1, 'applicant', 'A')"))
        conn.execute(text(
            "INSERT INTO decisions (id, request_id, forum, decided_at, chair, attendees,"
            " decision_maker, decision_maker_role, decision, legal_test, wording,"
            " recipient_party_id, recipient_rationale, discloser, delivery_method, deliver_by,"
            " subject_views_sought, subject_to_be_told, safeguarding_actions, recorded_by)"
            " VALUES (1, 1, 'dvds_panel', :at, 'DI Khan',"
            " '[{\"name\": \"A. Patel\", \"agency\": \"IDVA service\"},"
            " {\"name\": \"B. Shah\", \"agency\": \"probation\"},"
            " {\"name\": \"C. Wood\", \"agency\": \"Housing trust\"}]',"
            " 'DI Khan', 'Detective Chief Inspector', 'disclose', '{}', 'He has a conviction.',"
            " 2, 'At risk', 'PC Jones', 'In person', :at, false, false, '[]', 'di.khan')"),
            {"at": AT})
        conn.execute(text(
            "INSERT INTO deliveries (request_id, delivered_at, location, delivered_by,"
            " recipient_party_id, words_used, matches_approved_wording,"
            " confidentiality_explained, undertaking, safety_plan_made, referrals, recorded_by)"
            " VALUES (1, :at, 'Home', 'PC Jones', 2, 'He has a conviction.', true, true,"
            " 'signed', true, '[]', 'pc.jones')"), {"at": AT})
    upgrade(empty_url)
    with engine.connect() as conn:
        recipient = conn.execute(text(
            "SELECT decision_id, party_id, wording, discloser, method, settlement, settled_by"
            " FROM decision_recipients")).all()
        decision = conn.execute(text(
            "SELECT decision_maker, decision_maker_role, attendees, urgent FROM decisions")).one()
        party = conn.execute(text("SELECT kind, relationship_code FROM parties WHERE id = 3")).one()
    engine.dispose()
    assert recipient == [(1, 2, "He has a conviction.", "PC Jones", "In person", "delivered",
                          "PC Jones")]
    maker, rank, attendees, urgent = decision
    assert (maker, rank, bool(urgent)) == ("di.khan", "chief_inspector", False)
    agencies = [a["agency"] for a in (attendees if isinstance(attendees, list)
                                      else __import__("json").loads(attendees))]
    assert agencies == ["idva_service", "probation", "other"]
    assert tuple(party) == ("person", None)
