"""The trail against an insider with database access: every edit, deletion and rewrite they can
make in SQL is found by `verify`, by the row seals or by a signed checkpoint; an erasure made
through the service is not mistaken for one."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, null, select, update

from disclosure import audit, checkpoints, seals
from disclosure.errors import InvalidInput, TamperedRecord
from disclosure.mapp.meetings import Meetings
from disclosure.mapp.nominals import Nominals
from disclosure.mapp.schemas import NewMeeting, NewNominal
from disclosure.models import (
    Base,
    Check,
    Decision,
    DecisionRecipient,
    Event,
    Party,
    Request,
    Seal,
    View,
)
from disclosure.reads import ReadLog
from disclosure.users import Users
from disclosure.verification import Verifier
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.factories import new, new_meeting, new_nominal, payload, recipient

OFFICER = "officer.ann"
DECIDER = "inspector.bob"
ADMIN = "admin.cat"
STEPS = ("complete_initial_checks", "record_meeting", "record_check")


@pytest.fixture(autouse=True)
def _after_the_example_dates(clock: FakeClock) -> None:
    """The factories' events happen up to 7 November; these tests record them after."""
    clock.advance(days=10)


async def two_requests(workflow: Workflow) -> str:
    """An untouched request and, after it, the one the test tampers with (4 events)."""
    references = []
    for _ in range(2):
        view = await workflow.create(new(), actor=OFFICER)
        for version, event in enumerate(STEPS, start=1):
            await workflow.apply(view.reference, payload(event), actor=OFFICER,
                                 expected_version=version)
        references.append(view.reference)
    assert (await audit.verify(workflow.db)).ok
    return references[1]


async def decided(workflow: Workflow) -> str:
    """A request closed with a disclosure: a decision and its recipient, a delivery, a notice,
    parties and a check."""
    view = await workflow.create(new(), actor=OFFICER)
    at_risk = next(p.id for p in view.parties if p.role == "person_at_risk")
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("complete_initial_checks", OFFICER, {}), ("record_meeting", OFFICER, {}),
        ("record_check", OFFICER, {}), ("complete_checks", OFFICER, {}),
        ("record_decision", DECIDER, {"recipients": [recipient(at_risk)]}),
        ("record_delivery", OFFICER, {"recipient_party_id": at_risk}),
        ("record_notice", OFFICER, {}),
    ]
    for version, (event, actor, fields) in enumerate(steps, start=1):
        await workflow.apply(view.reference, payload(event, **fields), actor=actor,
                             expected_version=version)
    assert (await workflow.get(view.reference)).state == "closed"
    assert (await audit.verify(workflow.db)).ok
    return view.reference


async def request_id(workflow: Workflow, reference: str) -> int:
    async with workflow.db.read() as session:
        rid = await session.scalar(select(Request.id).where(Request.reference == reference))
    assert rid is not None
    return rid


async def tamper(workflow: Workflow, reference: str, seq: int, **values: Any) -> None:
    """Change an event row behind the service's back; no values deletes it."""
    rid = await request_id(workflow, reference)
    async with workflow.db.write() as session, session.begin():
        where = (Event.request_id == rid) & (Event.seq == seq)
        if values:
            await session.execute(update(Event).where(where).values(**values))
        else:
            await session.execute(delete(Event).where(where))


async def recompute_chain(workflow: Workflow, reference: str) -> None:
    """Rehash a request's whole chain and head as someone who knows the code but not the key
    would: plain SHA-256 over the same fields."""
    rid = await request_id(workflow, reference)
    async with workflow.db.write() as session, session.begin():
        events = (await session.scalars(
            select(Event).where(Event.request_id == rid).order_by(Event.seq)
        )).all()
        prev = audit.GENESIS
        for ev in events:
            ev.prev_hash = prev
            ev.hash = hashlib.sha256(audit.link_message(
                prev_hash=prev, reference=reference, seq=ev.seq, event=ev.event,
                from_state=ev.from_state, to_state=ev.to_state, actor=ev.actor,
                occurred_at=ev.occurred_at, policy_version=ev.policy_version,
                digest=ev.payload_digest,
            )).hexdigest()
            prev = ev.hash
        await session.execute(
            update(Request).where(Request.id == rid).values(last_event_hash=prev)
        )


async def delete_request(workflow: Workflow, reference: str) -> None:
    """Delete a request with every row that refers to it, and their seals."""
    rid = await request_id(workflow, reference)
    async with workflow.db.write() as session, session.begin():
        for table in reversed(Base.metadata.sorted_tables):
            if "request_id" in table.c:
                await session.execute(delete(table).where(table.c.request_id == rid))
        await session.execute(delete(Request).where(Request.id == rid))


async def edit_row(workflow: Workflow, table: type[Base], reference: str, **values: Any) -> None:
    rid = await request_id(workflow, reference)
    column = table.id if table is Request else table.request_id  # type: ignore[attr-defined]
    async with workflow.db.write() as session, session.begin():
        await session.execute(update(table).where(column == rid).values(**values))


async def test_edited_payload_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    edited = {**msgspec.to_builtins(payload("record_meeting")), "identity_verified": False}
    await tamper(workflow, reference, 3, payload=edited)
    found = await audit.verify(workflow.db)
    assert (found.ok, found.reference, found.seq) == (False, reference, 3)
    assert found.problem == "payload does not match its digest"


async def test_edited_actor_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await tamper(workflow, reference, 2, actor="someone.else")
    found = await audit.verify(workflow.db)
    assert (found.ok, found.reference, found.seq) == (False, reference, 2)
    assert found.problem == "event fields do not match its hash"


async def test_chain_recomputed_without_the_key_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await tamper(workflow, reference, 2, actor="someone.else")
    await recompute_chain(workflow, reference)
    found = await audit.verify(workflow.db)
    assert (found.ok, found.reference, found.seq) == (False, reference, 1)
    assert found.problem == "event fields do not match its hash"


async def test_deleted_middle_event_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await tamper(workflow, reference, 2)
    found = await audit.verify(workflow.db)
    assert (found.ok, found.reference, found.seq) == (False, reference, 2)
    assert found.problem == "event 2 is missing"


async def test_deleted_last_event_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await tamper(workflow, reference, 4)
    found = await audit.verify(workflow.db)
    assert (found.ok, found.reference, found.seq) == (False, reference, 4)
    assert found.problem == "request is at version 4 but has 3 events"


@pytest.mark.parametrize(("table", "values", "problem"), [
    (DecisionRecipient, {"wording": "Mark Sample has no convictions."},
     "decision_recipients row 1"),
    (Decision, {"decision_maker_role": "Constable"}, "decisions row 1"),
    (Party, {"name": "Someone Else"}, "parties row 1"),
    (Request, {"outcome": "not_disclosed"}, "requests row 1"),
])
async def test_casework_row_edited_in_sql_is_found(
    workflow: Workflow, table: type[Base], values: dict[str, Any], problem: str
) -> None:
    reference = await decided(workflow)
    await edit_row(workflow, table, reference, **values)
    found = await audit.verify(workflow.db)
    assert (found.ok, found.reference) == (False, reference)
    assert found.problem == f"{problem} does not match its seal"


async def test_no_change_is_sealed_over_a_tampered_row(workflow: Workflow) -> None:
    """The next event would re-seal an edited request as the service's own: it is refused."""
    reference = await two_requests(workflow)
    await edit_row(workflow, Request, reference, summary="Nothing to see")
    with pytest.raises(TamperedRecord, match=(
        f"{reference}: requests row 2 does not match its seal; nothing is written over it"
    )):
        await workflow.apply(reference, payload("complete_checks"), actor=OFFICER,
                             expected_version=4)
    assert (await workflow.get(reference)).version == 4
    found = await audit.verify(workflow.db)
    assert (found.ok, found.problem) == (False, "requests row 2 does not match its seal")


async def test_casework_row_deleted_in_sql_is_found(workflow: Workflow) -> None:
    await decided(workflow)
    async with workflow.db.write() as session, session.begin():
        await session.execute(delete(Check))
    found = await audit.verify(workflow.db)
    assert (found.ok, found.problem) == (False, "checks row 1 was deleted")


async def test_casework_row_deleted_with_its_seal_is_found(workflow: Workflow) -> None:
    reference = await decided(workflow)
    async with workflow.db.write() as session, session.begin():
        await session.execute(delete(Check))
        await session.execute(delete(Seal).where(Seal.table_name == "checks"))
    found = await audit.verify(workflow.db)
    assert (found.ok, found.reference) == (False, reference)
    assert found.problem == (
        "requests row 1: a row of this request was deleted together with its seal"
    )


async def test_every_casework_row_is_sealed(workflow: Workflow) -> None:
    """Each table holding a request's or a MAPPA nominal's rows is sealed row by row (the
    request chains key themselves), and every row the services wrote carries its seal."""
    await decided(workflow)
    nominal = await Nominals(workflow).register(
        msgspec.convert(new_nominal(), NewNominal), actor="coordinator")
    await Meetings(workflow).create(
        msgspec.convert(new_meeting(nominal.id), NewMeeting), actor="coordinator")
    holding = {t.name for t in Base.metadata.sorted_tables if "request_id" in t.c}
    # The search index, the requests each search showed, an alert's requests, a decision
    # review's sample and the stage and closure times the trail gives are derived or logged
    # beside the record, not casework rows.
    beside = {"search_terms", "search_results", "alert_requests", "review_items",
              "stage_times", "closure_times"}
    mapp = {t.name for t in Base.metadata.sorted_tables if "nominal_id" in t.c} - {
        "nominal_views", "seals"}
    assert mapp == {"nominal_events", "meetings", "action_points"}
    assert {*holding - {"events", "views", "seals"} - beside, "requests", "nominals", *mapp} == (
        seals.SEALED_NAMES)
    rows = 0
    async with workflow.db.read() as session:
        for table in seals.SEALED:
            rows += await session.scalar(select(func.count()).select_from(table)) or 0
        sealed = await session.scalar(select(func.count()).select_from(Seal))
    verdict = await audit.verify(workflow.db)
    assert verdict.ok and verdict.rows_checked == rows == sealed
    assert rows >= 12, "a request, its rows, a nominal, its trail, a meeting and its action"


async def test_payload_nulled_in_sql_is_found(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await tamper(workflow, reference, 3, payload=null(), payload_salt=null())
    found = await audit.verify(workflow.db)
    assert (found.ok, found.reference, found.seq) == (False, reference, 3)
    assert found.problem == "payload of event 3 was removed without an erasure event"


async def add_admin(workflow: Workflow) -> None:
    users = Users(workflow.db, now=workflow.now)
    await users.add_area("derbyshire", name="Derbyshire Constabulary", divisions=["north"])
    await users.add(ADMIN, password="a long admin passphrase", area="derbyshire",
                    roles=["admin"], created_by="test")
    await users.add(OFFICER, password="a long officer passphrase", area="derbyshire",
                    roles=["disclosure_officer"], created_by="test")


async def test_erasure_through_the_service_verifies(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await add_admin(workflow)
    done = await workflow.erase_payload(reference, seq=3, reason="retention: 6 years",
                                        authorised_by=ADMIN)
    assert (done.event, done.version) == ("erase_payload", 5)
    found = await audit.verify(workflow.db)
    assert found.ok, found
    events = await workflow.events(reference)
    assert events[2].payload is None
    assert (events[4].event, events[4].actor, events[4].payload) == (
        "erase_payload", ADMIN,
        {"seq": 3, "event": "record_meeting", "reason": "retention: 6 years",
         "authorised_by": ADMIN},
    )


async def test_erasure_needs_an_admin_and_a_payload(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    await add_admin(workflow)
    with pytest.raises(InvalidInput, match=f"authorised_by: {OFFICER} is not an active admin"):
        await workflow.erase_payload(reference, seq=3, reason="retention",
                                     authorised_by=OFFICER)
    with pytest.raises(InvalidInput, match="reason: is required"):
        await workflow.erase_payload(reference, seq=3, reason=" ", authorised_by=ADMIN)
    with pytest.raises(InvalidInput, match=f"seq: {reference} has no event 9"):
        await workflow.erase_payload(reference, seq=9, reason="retention", authorised_by=ADMIN)
    await workflow.erase_payload(reference, seq=3, reason="retention", authorised_by=ADMIN)
    with pytest.raises(InvalidInput, match="seq: the payload of event 3 is already erased"):
        await workflow.erase_payload(reference, seq=3, reason="retention", authorised_by=ADMIN)
    with pytest.raises(InvalidInput, match="seq: event 5 is an erasure; its record is kept"):
        await workflow.erase_payload(reference, seq=5, reason="retention", authorised_by=ADMIN)
    assert (await audit.verify(workflow.db)).ok


# Checkpoints ---------------------------------------------------------------------------


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


async def problems(workflow: Workflow, folder: Path, key: Ed25519PrivateKey) -> list[str]:
    findings = await checkpoints.verify(workflow.db, folder, key.public_key())
    return [p for f in findings for p in f.problems]


async def test_trail_extends_its_checkpoint(
    workflow: Workflow, tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    reference = await two_requests(workflow)
    await checkpoints.take(workflow.db, signing_key, tmp_path)
    await workflow.apply(reference, payload("complete_checks"), actor=OFFICER,
                         expected_version=4)
    await workflow.create(new(), actor=OFFICER)
    assert await problems(workflow, tmp_path, signing_key) == []


async def test_deleted_request_is_named_by_the_checkpoint(
    workflow: Workflow, tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    reference = await two_requests(workflow)
    await ReadLog(workflow.db, now=workflow.now).record(reference, viewer=OFFICER,
                                                       endpoint="read")
    await checkpoints.take(workflow.db, signing_key, tmp_path)
    await delete_request(workflow, reference)
    assert (await audit.verify(workflow.db)).ok, "the database alone cannot tell"
    assert await problems(workflow, tmp_path, signing_key) == [
        f"{reference} was deleted: it had 4 events at the checkpoint",
        f"{reference} was deleted: it had 1 views at the checkpoint",
    ]


async def test_newest_event_deleted_and_head_rolled_back_is_named(
    workflow: Workflow, tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    reference = await two_requests(workflow)
    await checkpoints.take(workflow.db, signing_key, tmp_path)
    rid = await request_id(workflow, reference)
    async with workflow.db.write() as session, session.begin():
        head = await session.scalar(
            select(Event.hash).where(Event.request_id == rid, Event.seq == 3)
        )
        await session.execute(delete(Event).where(Event.request_id == rid, Event.seq == 4))
        await session.execute(update(Request).where(Request.id == rid).values(
            version=3, last_event_hash=head, state="checks"
        ))
    assert await problems(workflow, tmp_path, signing_key) == [
        f"{reference}: event 4 is gone: it had 4 events at the checkpoint and has 3 now",
    ]


async def test_newest_views_deleted_are_named(
    workflow: Workflow, tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    reference = await two_requests(workflow)
    log = ReadLog(workflow.db, now=workflow.now)
    for _ in range(3):
        await log.record(reference, viewer=OFFICER, endpoint="read")
    await checkpoints.take(workflow.db, signing_key, tmp_path)
    async with workflow.db.write() as session, session.begin():
        await session.execute(delete(View).where(View.seq > 1))
    assert (await audit.verify(workflow.db)).ok, "the database alone cannot tell"
    assert await problems(workflow, tmp_path, signing_key) == [
        f"{reference}: view 3 is gone: it had 3 views at the checkpoint and has 1 now",
    ]


async def test_altered_checkpoint_is_refused(
    workflow: Workflow, tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    await two_requests(workflow)
    path = await checkpoints.take(workflow.db, signing_key, tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0].replace(b'"size":8', b'"size":7') + b"".join(lines[1:]))
    found = await problems(workflow, tmp_path, signing_key)
    assert len(found) == 1 and "signature does not verify" in found[0]


def test_merkle_tree_head_matches_rfc_9162() -> None:
    """The streamed tree head equals the recursive definition of RFC 9162 section 2.1.1."""
    def mth(leaves: list[bytes]) -> bytes:
        if not leaves:
            return hashlib.sha256(b"").digest()
        if len(leaves) == 1:
            return hashlib.sha256(b"\x00" + leaves[0]).digest()
        k = 1 << ((len(leaves) - 1).bit_length() - 1)
        return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

    for n in range(0, 20):
        leaves = [bytes([i]) * 3 for i in range(n)]
        tree = checkpoints.MerkleTree()
        for leaf in leaves:
            tree.add(leaf)
        assert tree.root() == mth(leaves).hex(), n


async def test_the_worker_process_finds_what_verify_finds(workflow: Workflow) -> None:
    reference = await two_requests(workflow)
    verifier = Verifier(workflow.db)
    try:
        clean = await verifier.verify(area=None)
        assert clean == await audit.verify(workflow.db)
        assert clean.ok and clean.events_checked > 0
        await tamper(workflow, reference, 2, actor="someone.else")
        broken = await verifier.verify(area="derbyshire")
        assert broken == await audit.verify(workflow.db, area="derbyshire")
        assert (broken.ok, broken.reference, broken.seq) == (False, reference, 2)
    finally:
        verifier.close()
