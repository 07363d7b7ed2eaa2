"""Migration 0005 carries a trail written before it forward: every event recorded when it
says it happened, every closing a closure with its outcome, and, once `audit reseal` has keyed
the trail at the upgrade, the chain sound and the closures sealed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from disclosure import audit
from disclosure.db import Database
from disclosure.migrations import upgrade
from disclosure.models import Closure, Event
from tests.conftest import _require_postgres

RECEIVED = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend, not yet migrated."""
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
    parsed = make_url(url)
    driver = "sqlite" if parsed.drivername.startswith("sqlite") else "postgresql+psycopg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


# Withdrawn, reopened, then disclosed to the person at risk: as the service wrote it at 0003.
STORY: list[tuple[str, str | None, str, dict[str, Any]]] = [
    ("receive", None, "received", {"scheme": "dvds"}),
    ("withdraw", "received", "closed", {"reason": "Applicant asked to stop"}),
    ("reopen", "closed", "received", {"reason": "Applicant rang back"}),
    ("complete_initial_checks", "received", "checks", {"finding": "in_scope"}),
    ("complete_checks", "checks", "awaiting_decision", {"summary": ""}),
    ("record_decision", "awaiting_decision", "awaiting_delivery", {"decision": "disclose"}),
    ("record_delivery", "awaiting_delivery", "closed", {"recipient_party_id": 2}),
]


def _write_old_trail(url: str) -> None:
    engine = create_engine(_sync(url))
    prev = audit.GENESIS
    events: list[dict[str, Any]] = []
    for seq, (event, source, target, payload) in enumerate(STORY, start=1):
        at = RECEIVED + timedelta(days=seq)
        salt = audit.new_salt()
        digest = audit.payload_digest(payload, salt)
        # Before the trail was keyed, a link was the plain SHA-256 of its fields.
        link = hashlib.sha256(audit.link_message(
            prev_hash=prev, reference="DVDS-2026-000001", seq=seq, event=event,
            from_state=source, to_state=target, actor="officer.ann", occurred_at=at,
            policy_version="dvds-2023", digest=digest,
        )).hexdigest()
        events.append({
            "rid": 1, "seq": seq, "event": event, "source": source, "target": target,
            "at": at, "payload": json.dumps(payload), "salt": salt,
            "digest": digest, "prev": prev, "hash": link,
        })
        prev = link
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO requests (id, reference, scheme, route, area, channel, summary, state,"
            " outcome, immediate_risk, policy_version, received_at, closed_at, created_at,"
            " updated_at, created_by, version, last_event_hash) VALUES (1, 'DVDS-2026-000001',"
            " 'dvds', 'right_to_know', 'derbyshire', 'online', 'Concern', 'closed',"
            " 'disclosed_to_person_at_risk', false, 'dvds-2023', :received, :closed, :received,"
            " :closed, 'officer.ann', :version, :head)"
        ), {"received": RECEIVED, "closed": events[-1]["at"], "version": len(events),
            "head": prev})
        conn.execute(text(
            "INSERT INTO parties (id, request_id, role) VALUES (1, 1, 'subject'),"
            " (2, 1, 'person_at_risk')"
        ))
        conn.execute(text(
            "INSERT INTO events (request_id, seq, event, from_state, to_state, actor,"
            " occurred_at, policy_version, payload, payload_salt, payload_digest, prev_hash,"
            " hash) VALUES (:rid, :seq, :event, :source, :target, 'officer.ann', :at,"
            " 'dvds-2023', :payload, :salt, :digest, :prev, :hash)"
        ), events)
    engine.dispose()


def test_an_old_trail_is_carried_forward(fresh_url: str) -> None:
    upgrade(fresh_url, "0003")
    _write_old_trail(fresh_url)
    upgrade(fresh_url)

    async def check() -> None:
        db = Database(fresh_url)
        async with db.read() as session:
            events = (await session.scalars(select(Event))).all()
            assert len(events) == len(STORY)
            assert all(e.recorded_at == e.occurred_at for e in events)
            closures = (await session.scalars(select(Closure).order_by(Closure.seq))).all()
        resealed = await audit.reseal(db)
        assert resealed is not None and resealed.unverified == []
        # The request, its two parties and the two closures the migration made.
        assert resealed.rows == 5
        verdict = await audit.verify(db)
        assert verdict.ok, verdict.problems
        assert verdict.rows_checked == 5
        async with db.engine.begin() as conn:
            await conn.execute(text("UPDATE closures SET outcome = 'withdrawn' WHERE seq = 7"))
        edited = await audit.verify(db)
        await db.dispose()
        assert not edited.ok
        assert [p.problem for p in edited.problems] == [
            f"closures row {closures[1].id} does not match its seal"
        ]
        assert [(c.seq, c.event, c.outcome, c.reopened_seq, c.reopen_reason,
                 c.reopen_category) for c in closures] == [
            (2, "withdraw", "withdrawn", 3, "Applicant rang back", None),
            (7, "record_delivery", "disclosed_to_person_at_risk", None, None, None),
        ]

    asyncio.run(check())
