"""The baseline: each transaction of a lifecycle as hand-written SQL, minus ORM, service, machine.

Same engine and connection pool as the service (so the same BEGIN IMMEDIATE on SQLite and
SELECT ... FOR UPDATE on PostgreSQL), the same statements in the same transactions, the same
values written: stage records, salted payload digests, the sha256 link chain, the version bump.
The request, its parties and its checks are written through the service's `seals.Sealer`, as
the service writes them: each UPDATE of the request checks the row against its seal first, and
one statement writes the seals before the commit. Due dates are worked out again when the state
changes, and kept as they stand when it does not, as the service does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Integer, Row, String, bindparam, insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import audit, clocks, seals, timeliness
from disclosure.db import Database
from disclosure.errors import EventNotAllowed, GuardRefused, NotFound, StaleVersion
from disclosure.models import UtcDateTime
from disclosure.outcomes import decided_outcome, outcome_of
from disclosure.policy import PolicySettings
from disclosure.records import CHECKS, PARTIES, REQUESTS, TABLES
from disclosure.schemas import (
    CompleteChecks,
    CompleteInitialChecks,
    EventIn,
    NewRequest,
    RecordCheck,
    RecordDecision,
    RecordDelivery,
)
from statemachines.lifecycle import PREPARING, same_words


class Opened(NamedTuple):
    """A request just received: its reference, its ETag version and its person at risk."""

    reference: str
    version: int
    at_risk: int


# The DVDS right-to-ask path a disclosure takes: (state, event) → next state.
NEXT: dict[tuple[str, str], str] = {
    ("received", "complete_initial_checks"): "awaiting_meeting",
    ("awaiting_meeting", "record_meeting"): "checks",
    ("checks", "record_check"): "checks",
    ("checks", "complete_checks"): "awaiting_decision",
    ("awaiting_decision", "record_decision"): "awaiting_delivery",
    ("awaiting_delivery", "record_delivery"): "closed",
}

NEXT_NUMBER = text(
    "INSERT INTO reference_counters (scheme, year, last) VALUES (:scheme, :year, 1) "
    "ON CONFLICT (scheme, year) DO UPDATE SET last = reference_counters.last + 1 RETURNING last"
)
INSERT_REQUEST = insert(REQUESTS)
INSERT_PARTIES = insert(PARTIES)
INSERT_CHECK = insert(CHECKS)
INSERT_DECISION = insert(TABLES["decisions"])
INSERT_RECIPIENT = insert(TABLES["decision_recipients"])
INSERT_DELIVERY = insert(TABLES["deliveries"])
SETTLE = update(TABLES["decision_recipients"]).where(
    TABLES["decision_recipients"].c.decision_id == bindparam("decision"),
    TABLES["decision_recipients"].c.party_id == bindparam("party"),
)
# The one UPDATE of the request an event makes, version-checked as the service's is; its SET
# clause is the parameters given besides these two.
BUMP = update(REQUESTS).where(
    REQUESTS.c.id == bindparam("rid"), REQUESTS.c.version == bindparam("expected")
)
LOCK = (
    "SELECT id, reference, scheme, state, version, last_event_hash, policy_version, received_at,"
    " due_at, stage_due_at FROM requests WHERE reference = :reference"
)
WHEN = {"received_at": UtcDateTime(), "due_at": UtcDateTime(), "stage_due_at": UtcDateTime()}
COUNT_CHECKS = text("SELECT count(*) FROM checks WHERE request_id = :rid")
PARTY_ROLES = text("SELECT id, role FROM parties WHERE request_id = :rid")
PREPARED_BY = text(
    "SELECT actor, min(seq), event FROM events WHERE request_id = :rid AND event IN"
    f" ({', '.join(repr(e) for e in PREPARING)}) GROUP BY actor, event ORDER BY min(seq)"
)
LATEST_DECISION = text(
    "SELECT id, decision, no_disclosure_reason, decided_at FROM decisions"
    " WHERE request_id = :rid AND urgent = false ORDER BY id DESC LIMIT 1"
)
RECIPIENTS = text(
    "SELECT r.party_id, r.wording, r.settlement, p.role FROM decision_recipients r"
    " JOIN parties p ON p.id = r.party_id WHERE r.decision_id = :decision"
)
INSERT_EVENT = text(
    "INSERT INTO events (request_id, seq, event, from_state, to_state, actor, occurred_at,"
    " recorded_at, policy_version, payload, payload_salt, payload_digest, prev_hash, hash,"
    " key_id) VALUES (:rid, :seq, :event, :from_state, :to_state, :actor, :at, :at,"
    " :policy_version, :payload, :salt, :digest, :prev_hash, :hash, :key_id)"
)


# The clock's inputs, as timeliness.request_clocks reads them after each event's row is in.
STAGE_CHANGES = text(
    "SELECT to_state, occurred_at FROM events WHERE request_id = :rid AND to_state IN"
    f" ({', '.join(repr(s) for s in timeliness.STAGE_OF_STATE if s != 'received')})"
    " AND from_state <> to_state ORDER BY seq"
).columns(to_state=String(), occurred_at=UtcDateTime())
EXTENSIONS = text(
    "SELECT days, category, reason, granted_at FROM extensions WHERE request_id = :rid"
).columns(days=Integer(), category=String(), reason=String(), granted_at=UtcDateTime())


class RawLifecycle:
    """Receive and move requests with hand-written statements over the service's own engine."""

    def __init__(self, db: Database, policy: PolicySettings) -> None:
        self.writer = db.engine.execution_options(writer=True)
        self.sqlite = db.dialect == "sqlite"
        self.lock = text(LOCK if self.sqlite else LOCK + " FOR UPDATE").columns(**WHEN)
        self.policy = policy
        self.keys = db.keys

    def _when(self, moment: datetime | None) -> Any:
        """A UTC datetime as the column stores it: naive text on SQLite, timestamptz otherwise."""
        if moment is None or not self.sqlite:
            return moment
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    async def receive(self, new: NewRequest, *, actor: str) -> Opened:
        now = datetime.now(UTC)
        received_at = new.received_at.astimezone(UTC)
        policy = self.policy.book.version_for(new.scheme, received_at)
        clock = timeliness.receipt_clock(
            self.policy, code=policy.code, route=new.route, received_at=received_at
        )
        async with self.writer.begin() as conn:
            sealer = seals.Sealer(conn, self.keys)
            number = (
                await conn.execute(NEXT_NUMBER, {"scheme": new.scheme, "year": received_at.year})
            ).scalar_one()
            reference = f"{new.scheme.upper()}-{received_at.year}-{number:06d}"
            # The receive event is chained first, so the request goes in with its hash.
            link = self._link(
                reference=reference, seq=1, prev_hash=audit.GENESIS, policy_version=policy.code,
                event="receive", from_state=None, to_state="received", actor=actor, at=now,
                payload=msgspec.to_builtins(new),
            )
            [row] = await sealer.write(INSERT_REQUEST, {
                "reference": reference, "scheme": new.scheme, "route": new.route,
                "area": new.area, "division": new.division, "channel": new.channel,
                "summary": new.summary, "state": "received",
                "immediate_risk": new.immediate_risk, "policy_version": policy.code,
                "received_at": received_at,
                "due_at": clock.overall.due_at if clock.overall else None,
                "stage_due_at": timeliness.stage_due_at(clock, "received"),
                "created_at": now, "updated_at": now, "created_by": actor, "version": 1,
                "last_event_hash": link["hash"],
            })
            rid = row.id
            await conn.execute(INSERT_EVENT, link | {"rid": rid})
            parties = await sealer.write(INSERT_PARTIES, [
                msgspec.structs.asdict(p) | {
                    "request_id": rid,
                    "safe_contact": msgspec.to_builtins(p.safe_contact) if p.safe_contact else None,
                }
                for p in new.parties
            ])
            at_risk = next(p.id for p in parties if p.role == "person_at_risk")
            await sealer.flush()
        return Opened(reference, 1, at_risk)

    async def send(
        self, reference: str, payload: EventIn, *, actor: str, expected_version: int
    ) -> int:
        event = type(payload).__struct_config__.tag
        assert isinstance(event, str)
        async with self.writer.begin() as conn:
            sealer = seals.Sealer(conn, self.keys)
            request = (await conn.execute(self.lock, {"reference": reference})).first()
            if request is None:
                raise NotFound(reference)
            if request.version != expected_version:
                raise StaleVersion(reference, expected_version, request.version)
            rid, state = request.id, request.state
            to_state = NEXT.get((state, event))
            if to_state is None:
                raise EventNotAllowed(event, state, ())
            now = datetime.now(UTC)
            decided = await self._stage(conn, sealer, rid, payload, actor=actor)
            seq: int = request.version + 1
            link = self._link(
                reference=reference, seq=seq, prev_hash=request.last_event_hash,
                policy_version=request.policy_version, event=event, from_state=state,
                to_state=to_state, actor=actor, at=now, payload=msgspec.to_builtins(payload),
            )
            await conn.execute(INSERT_EVENT, link | {"rid": rid})
            bump = {"rid": rid, "expected": expected_version, "state": to_state,
                    "updated_at": now, "version": seq, "last_event_hash": link["hash"]}
            if to_state == state:
                bump |= {"due_at": request.due_at, "stage_due_at": request.stage_due_at}
            else:
                bump |= await self._clock(conn, request, to_state)
            if to_state == "closed":
                bump |= {"outcome": outcome_of(payload, decided=decided), "closed_at": now}
            elif isinstance(payload, CompleteInitialChecks):
                bump |= {"immediate_risk": payload.immediate_risk}
            if len(await sealer.write(BUMP, bump)) != 1:
                raise StaleVersion(reference, expected_version, request.version)
            await sealer.flush()
        return seq

    async def _stage(
        self, conn: AsyncConnection, sealer: seals.Sealer, rid: int, payload: EventIn, *,
        actor: str,
    ) -> str | None:
        """Check the guards and write the stage record; what a delivery's decision came to."""
        params = {"request_id": rid, "recorded_by": actor}
        match payload:
            case RecordCheck():
                await sealer.write(INSERT_CHECK, params | self._row(CHECKS, payload))
            case CompleteChecks():
                if (await conn.execute(COUNT_CHECKS, {"rid": rid})).scalar_one() < 1:
                    raise GuardRefused("complete_checks", "needs at least one recorded check")
            case RecordDecision():
                prepared = {a for a, _, _ in await conn.execute(PREPARED_BY, {"rid": rid})}
                parties = await self._parties(conn, rid)
                for recipient in payload.recipients:
                    if parties.get(recipient.party_id) in (None, "subject", "referrer", "child"):
                        raise GuardRefused("record_decision", "the recipient must be eligible")
                if actor in prepared:
                    raise GuardRefused("record_decision", "decided by who prepared it")
                [decision] = await sealer.write(INSERT_DECISION, params | self._row(
                    INSERT_DECISION.table, payload) | {"decision_maker": actor})
                await sealer.write(INSERT_RECIPIENT, [
                    {"decision_id": decision.id, "request_id": rid}
                    | self._row(INSERT_RECIPIENT.table, recipient)
                    for recipient in payload.recipients
                ])
            case RecordDelivery():
                decision = (await conn.execute(LATEST_DECISION, {"rid": rid})).first()
                if decision is None:
                    raise GuardRefused("record_delivery", "no decision")
                recipients = (await conn.execute(RECIPIENTS, {"decision": decision.id})).all()
                pending = {r.party_id: r.wording for r in recipients if r.settlement is None}
                if payload.recipient_party_id not in pending:
                    raise GuardRefused("record_delivery", "not a recipient awaiting delivery")
                await sealer.write(INSERT_DELIVERY, params | self._row(
                    INSERT_DELIVERY.table, payload) | {
                    "matches_approved_wording": same_words(
                        payload.words_used, pending[payload.recipient_party_id]),
                })
                await sealer.write(SETTLE, {
                    "settlement": "delivered", "settled_at": payload.delivered_at,
                    "settled_by": payload.delivered_by, "decision": decision.id,
                    "party": payload.recipient_party_id,
                })
                delivered = {r.party_id: r.role for r in recipients if r.settlement}
                delivered[payload.recipient_party_id] = next(
                    r.role for r in recipients if r.party_id == payload.recipient_party_id)
                return decided_outcome("disclose", no_disclosure_reason=None,
                                       delivered_to=delivered.values())
        return None

    async def _parties(self, conn: AsyncConnection, rid: int) -> dict[int, str]:
        return {party_id: role for party_id, role in await conn.execute(PARTY_ROLES, {"rid": rid})}

    async def _clock(
        self, conn: AsyncConnection, request: Row[Any], state: str
    ) -> dict[str, Any]:
        """The overall and stage due dates, recomputed from the trail with this event in it."""
        received_at: datetime = request.received_at
        entered = (await conn.execute(STAGE_CHANGES, {"rid": request.id})).tuples().all()
        extensions = [
            clocks.Extension(e.days, e.category, e.reason, e.granted_at)
            for e in await conn.execute(EXTENSIONS, {"rid": request.id})
        ]
        clock = clocks.request_clock(
            self.policy.book.by_code(request.policy_version), received_at=received_at,
            stage_starts=timeliness.stage_starts(received_at, entered), extensions=extensions,
            nation=self.policy.nation,
        )
        return {
            "due_at": clock.overall.due_at if clock.overall else None,
            "stage_due_at": timeliness.stage_due_at(clock, state),
        }

    @staticmethod
    def _row(table: Any, values: Any) -> dict[str, Any]:
        """The fields of `values` that are columns of `table`, as the service stores them."""
        fields = values if isinstance(values, dict) else msgspec.structs.asdict(values)
        return {
            name: msgspec.to_builtins(value) if isinstance(value, list | dict | msgspec.Struct)
            else value
            for name, value in fields.items() if name in table.c
        }

    def _link(
        self,
        *,
        reference: str,
        seq: int,
        prev_hash: str,
        policy_version: str,
        event: str,
        from_state: str | None,
        to_state: str,
        actor: str,
        at: datetime,
        payload: dict[str, Any],
    ) -> dict[str, Any]:
        """One link of the trail: the event row's values but its request id."""
        salt = audit.new_salt()
        digest = audit.payload_digest(payload, salt)
        key_id, link = audit.link(
            self.keys, prev_hash=prev_hash, reference=reference, seq=seq, event=event,
            from_state=from_state, to_state=to_state, actor=actor, occurred_at=at,
            policy_version=policy_version, digest=digest,
        )
        return {
            "seq": seq, "event": event, "from_state": from_state, "to_state": to_state,
            "actor": actor, "at": self._when(at), "policy_version": policy_version,
            "payload": msgspec.json.encode(payload).decode(), "salt": salt, "digest": digest,
            "prev_hash": prev_hash, "hash": link, "key_id": key_id,
        }
