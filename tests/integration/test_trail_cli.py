"""The trail's commands as an operator uses them: keygen, checkpoint, a direct SQL edit, and
verify naming it; erase; reseal of a trail written before keys."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.engine import make_url

from disclosure import audit
from disclosure.cli import main
from disclosure.db import Database
from disclosure.keys import load_trail_keys
from disclosure.models import Event, Request, Seal, View
from disclosure.policy import load_policy_book
from disclosure.reads import ReadLog
from disclosure.users import Users
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.factories import new, payload, utc

OFFICER = "officer.ann"


def sql(url: str, statement: str) -> None:
    """Run one statement as someone with a database client would."""
    parsed = make_url(url)
    driver = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg"
    engine = create_engine(parsed.set(drivername=driver))
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


async def seed(url: str) -> list[str]:
    clock = FakeClock(utc("2026-11-12T12:00:00Z"))
    workflow = Workflow(Database(url), load_policy_book(None), now=clock)
    references = []
    for _ in range(2):
        view = await workflow.create(new(), actor=OFFICER)
        await workflow.apply(view.reference, payload("complete_initial_checks"), actor=OFFICER,
                             expected_version=1)
        await ReadLog(workflow.db, now=workflow.now).record(view.reference, viewer=OFFICER,
                                                           endpoint="read")
        references.append(view.reference)
    users = Users(workflow.db, now=workflow.now)
    await users.add_area("derbyshire", name="Derbyshire Constabulary", divisions=["north"])
    await users.add("admin.cat", password="a long admin passphrase", area="derbyshire",
                    roles=["admin"], created_by="test")
    await workflow.db.dispose()
    return references


@pytest.fixture
def operator(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path]:
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    monkeypatch.setenv("DISCLOSURE_CHECKPOINT_KEY_FILE", str(tmp_path / "checkpoint.key"))
    assert main(["audit", "keygen"]) == 0
    return database_url, tmp_path / "checkpoints"


def test_checkpoint_then_sql_edits_then_verify_names_them(
    operator: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, folder = operator
    first, second = asyncio.run(seed(url))
    assert main(["audit", "checkpoint", "-o", str(folder)]) == 0
    assert main(["audit", "verify", "--checkpoints", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == "OK: 4 events in 2 requests, 2 views, 8 sealed rows"
    assert out[-1].startswith("OK: extends checkpoint-") and "(4 events, 2 views at" in out[-1]

    sql(url, "UPDATE parties SET name = 'Someone Else' WHERE id = 1")
    assert main(["audit", "verify", "--checkpoints", str(folder)]) == 1
    assert capsys.readouterr().out.splitlines()[0] == (
        f"BROKEN: {first}: parties row 1 does not match its seal"
    )

    sql(url, "DELETE FROM events WHERE seq = 2 AND request_id = 2")
    sql(url, "DELETE FROM views WHERE request_id = 2")
    assert main(["audit", "verify", "--checkpoints", str(folder)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        f"BROKEN: {second}: event 2: request is at version 2 but has 1 events",
        f"BROKEN: {first}: parties row 1 does not match its seal",
    ]
    name = next(folder.glob("checkpoint-*.jsonl")).name
    assert out[2:] == [
        f"BROKEN: {name}: {second}: event 2 is gone: it had 2 events at the checkpoint and"
        " has 1 now",
        f"BROKEN: {name}: {second}: view 1 is gone: it had 1 views at the checkpoint and"
        " has 0 now",
    ]


def test_erase_through_the_command_verifies(
    operator: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = operator
    first, _ = asyncio.run(seed(url))
    assert main(["audit", "erase", "--reference", first, "--seq", "2", "--reason",
                 "retention period ended", "--authorised-by", "admin.cat"]) == 0
    assert capsys.readouterr().out == (
        f"{first}: payload of event 2 erased, recorded as event 3 (erase_payload)"
        " authorised by admin.cat\n"
    )
    assert main(["audit", "verify"]) == 0
    assert main(["audit", "erase", "--reference", first, "--seq", "1", "--reason",
                 "retention", "--authorised-by", "officer.ann"]) == 1
    assert capsys.readouterr().err == (
        "disclosure: authorised_by: officer.ann is not an active admin\n"
    )


async def unkey(url: str) -> None:
    """Turn the trail back into what it was before keys: plain SHA-256 links, no seals."""
    db = Database(url)
    async with db.write() as session, session.begin():
        rows = await session.execute(
            select(Event, Request.reference).join(Request, Request.id == Event.request_id)
            .order_by(Event.request_id, Event.seq)
        )
        heads: dict[int, str] = {}
        for ev, reference in rows:
            ev.prev_hash = heads.get(ev.request_id, audit.GENESIS)
            ev.hash = hashlib.sha256(audit.link_message(
                prev_hash=ev.prev_hash, reference=reference, seq=ev.seq, event=ev.event,
                from_state=ev.from_state, to_state=ev.to_state, actor=ev.actor,
                occurred_at=ev.occurred_at, policy_version=ev.policy_version,
                digest=ev.payload_digest,
            )).hexdigest()
            ev.key_id = None
            heads[ev.request_id] = ev.hash
        for rid, head in heads.items():
            await session.execute(
                update(Request).where(Request.id == rid).values(last_event_hash=head)
            )
        await session.execute(delete(View))
        await session.execute(delete(Seal))
    await db.dispose()


def test_reseal_keys_a_trail_written_before_keys_once(
    operator: tuple[str, Path], trail_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = operator
    first, second = asyncio.run(seed(url))
    asyncio.run(unkey(url))
    sql(url, "UPDATE events SET actor = 'someone.else' WHERE seq = 2 AND request_id = 2")
    assert main(["audit", "verify"]) == 1
    assert "is not keyed" in capsys.readouterr().out

    assert main(["audit", "reseal"]) == 0
    captured = capsys.readouterr()
    assert captured.out == (
        "trail keyed: 2 events and 0 views re-linked, 4 rows sealed, in 1 requests\n"
    )
    assert captured.err.startswith(f"disclosure: {second}: its trail did not verify as written")
    assert main(["audit", "verify", "--reference", first]) == 0
    assert main(["audit", "verify", "--reference", second]) == 1
    assert main(["audit", "reseal"]) == 0
    assert capsys.readouterr().out.endswith("the trail is already keyed; nothing to reseal\n")
    assert load_trail_keys(trail_key_file).current
