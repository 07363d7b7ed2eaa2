"""The baseline: each transaction of a lifecycle as hand-written SQL, minus ORM, service, machine.

Same engine and connection pool as the service (so the same BEGIN IMMEDIATE on SQLite and
SELECT ... FOR UPDATE on PostgreSQL), the same statements in the same transactions, the same
values written: stage records, salted payload digests, the sha256 link chain, the version bump.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Integer, Row, String, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import audit, clocks, timeliness
from disclosure.db import Database
from disclosure.errors import EventNotAllowed, GuardRefused, NotFound, StaleVersion
from disclosure.models import Party, UtcDateTime
from disclosure.outcomes import decided_outcome, outcome_of
from disclosure.policy import PolicySettings
from disclosure.schemas import (
    CompleteChecks,
    CompleteInitialChecks,
    EventIn,
    NewRequest,
    RecipientIn,
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
INSERT_REQUEST = text(
    "INSERT INTO requests (reference, scheme, route, area, division, channel, summary, state,"
    " immediate_risk, policy_version, received_at, due_at, stage_due_at, created_at, updated_at,"
    " created_by, version, last_event_hash) VALUES (:reference, :scheme, :route, :area,"
    " :division, :channel, :summary, 'received', :immediate_risk, :policy_version, :received_at,"
    " :due_at, :stage_due_at, :at, :at, :actor, 1, :hash) RETURNING id"
)
# Parties go in as the ORM sends them: batched, each row's id returned in order.
INSERT_PARTIES = (
    insert(Party).returning(Party.id, Party.role, sort_by_parameter_order=True)
)
LOCK = (
    "SELECT id, reference, scheme, state, version, last_event_hash, policy_version, received_at"
    " FROM requests WHERE reference = :reference"
)
WHEN = {"received_at": UtcDateTime()}
COUNT_CHECKS = text("SELECT count(*) FROM checks WHERE request_id = :rid")
PARTIES = text("SELECT id, role FROM parties WHERE request_id = :rid")
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
SETTLE = text(
    "UPDATE decision_recipients SET settlement = 'delivered', settled_at = :at, settled_by = :by"
    " WHERE decision_id = :decision AND party_id = :party"
)
INSERT_CHECK = text(
    "INSERT INTO checks (request_id, source, information_held, summary, checked_at, recorded_by)"
    " VALUES (:request_id, :source, :information_held, :summary, :checked_at, :recorded_by)"
)
INSERT_EVENT = text(
    "INSERT INTO events (request_id, seq, event, from_state, to_state, actor, occurred_at,"
    " recorded_at, policy_version, payload, payload_salt, payload_digest, prev_hash, hash,"
    " key_id) VALUES (:rid, :seq, :event, :from_state, :to_state, :actor, :at, :at,"
    " :policy_version, :payload, :salt, :digest, :prev_hash, :hash, :key_id)"
)


def _bump(*extra: str) -> Any:
    """The one UPDATE of the request an event makes, version-checked as the service's is."""
    sets = ", ".join(f"{c} = :{c}" for c in extra)
    return text(
        "UPDATE requests SET state = :state, updated_at = :at, version = :version,"
        f" last_event_hash = :hash, due_at = :due_at, stage_due_at = :stage_due_at"
        f"{', ' + sets if sets else ''} WHERE id = :rid AND version = :expected"
    )


BUMP = _bump()
RISK = _bump("immediate_risk")
CLOSE = _bump("outcome", "closed_at")
# The clock's inputs, as timeliness.request_clocks reads them after each event's row is in.
STAGE_CHANGES = text(
    "SELECT to_state, occurred_at FROM events WHERE request_id = :rid AND to_state IN"
    f" ({', '.join(repr(s) for s in timeliness.STAGE_OF_STATE if s != 'received')})"
    " AND from_state <> to_state ORDER BY seq"
).columns(to_state=String(), occurred_at=UtcDateTime())
EXTENSIONS = text(
    "SELECT days, category, reason, granted_at FROM extensions WHERE request_id = :rid"
).columns(days=Integer(), category=String(), reason=String(), granted_at=UtcDateTime())


def _insert(table: str, columns: list[str]) -> Any:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return text(f"INSERT INTO {table} ({names}) VALUES ({values})")


DECISION_COLUMNS = [
    "request_id", "recorded_by", "decision_maker",
    *(f for f in RecordDecision.__struct_fields__ if f != "recipients"),
]
RECIPIENT_COLUMNS = ["decision_id", "request_id", *RecipientIn.__struct_fields__]
DELIVERY_COLUMNS = [
    "request_id", "recorded_by", "matches_approved_wording", *RecordDelivery.__struct_fields__
]
INSERT_DECISION = text(
    _insert("decisions", DECISION_COLUMNS).text + " RETURNING id"
)
INSERT_RECIPIENT = _insert("decision_recipients", RECIPIENT_COLUMNS)
INSERT_DELIVERY = _insert("deliveries", DELIVERY_COLUMNS)


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

    def _column(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return self._when(value)
        if isinstance(value, list | dict | msgspec.Struct):
            return msgspec.json.encode(value).decode()
        return value

    async def receive(self, new: NewRequest, *, actor: str) -> Opened:
        now = datetime.now(UTC)
        received_at = new.received_at.astimezone(UTC)
        policy = self.policy.book.version_for(new.scheme, received_at)
        clock = timeliness.receipt_clock(self.policy, code=policy.code, received_at=received_at)
        async with self.writer.begin() as conn:
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
            rid = (
                await conn.execute(INSERT_REQUEST, {
                    "reference": reference, "scheme": new.scheme, "route": new.route,
                    "area": new.area, "division": new.division, "channel": new.channel,
                    "summary": new.summary, "immediate_risk": new.immediate_risk,
                    "policy_version": policy.code, "received_at": self._when(received_at),
                    "due_at": self._when(clock.overall.due_at if clock.overall else None),
                    "stage_due_at": self._when(timeliness.stage_due_at(clock, "received")),
                    "at": self._when(now), "actor": actor, "hash": link["hash"],
                })
            ).scalar_one()
            await conn.execute(INSERT_EVENT, link | {"rid": rid})
            parties = await conn.execute(INSERT_PARTIES, [
                msgspec.structs.asdict(p) | {
                    "request_id": rid,
                    "safe_contact": msgspec.to_builtins(p.safe_contact) if p.safe_contact else None,
                }
                for p in new.parties
            ])
            at_risk = next(p.id for p in parties if p.role == "person_at_risk")
        return Opened(reference, 1, at_risk)

    async def send(
        self, reference: str, payload: EventIn, *, actor: str, expected_version: int
    ) -> int:
        event = type(payload).__struct_config__.tag
        assert isinstance(event, str)
        async with self.writer.begin() as conn:
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
            decided = await self._stage(conn, rid, payload, actor=actor)
            seq: int = request.version + 1
            link = self._link(
                reference=reference, seq=seq, prev_hash=request.last_event_hash,
                policy_version=request.policy_version, event=event, from_state=state,
                to_state=to_state, actor=actor, at=now, payload=msgspec.to_builtins(payload),
            )
            await conn.execute(INSERT_EVENT, link | {"rid": rid})
            bump = {"rid": rid, "expected": expected_version, "state": to_state,
                    "at": self._when(now), "version": seq, "hash": link["hash"]}
            bump |= await self._clock(conn, request, to_state)
            if to_state == "closed":
                outcome = outcome_of(payload, decided=decided)
                bumped = await conn.execute(CLOSE, bump | {
                    "outcome": outcome, "closed_at": self._when(now)
                })
            elif isinstance(payload, CompleteInitialChecks):
                bumped = await conn.execute(RISK, bump | {
                    "immediate_risk": payload.immediate_risk
                })
            else:
                bumped = await conn.execute(BUMP, bump)
            if bumped.rowcount != 1:
                raise StaleVersion(reference, expected_version, request.version)
        return seq

    async def _stage(
        self, conn: AsyncConnection, rid: int, payload: EventIn, *, actor: str
    ) -> str | None:
        """Check the guards and write the stage record; what a delivery's decision came to."""
        params = {"request_id": rid, "recorded_by": actor}
        match payload:
            case RecordCheck():
                await conn.execute(INSERT_CHECK, params | self._fields(payload))
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
                fields = self._fields(payload)
                del fields["recipients"]
                decision_id = (await conn.execute(
                    INSERT_DECISION, params | fields | {"decision_maker": actor}
                )).scalar_one()
                for recipient in payload.recipients:
                    await conn.execute(INSERT_RECIPIENT, {
                        "decision_id": decision_id, "request_id": rid,
                    } | {k: self._column(v) for k, v in msgspec.structs.asdict(recipient).items()})
            case RecordDelivery():
                decision = (await conn.execute(LATEST_DECISION, {"rid": rid})).first()
                if decision is None:
                    raise GuardRefused("record_delivery", "no decision")
                recipients = (await conn.execute(RECIPIENTS, {"decision": decision.id})).all()
                pending = {r.party_id: r.wording for r in recipients if r.settlement is None}
                if payload.recipient_party_id not in pending:
                    raise GuardRefused("record_delivery", "not a recipient awaiting delivery")
                await conn.execute(INSERT_DELIVERY, params | self._fields(payload) | {
                    "matches_approved_wording": same_words(
                        payload.words_used, pending[payload.recipient_party_id]),
                })
                await conn.execute(SETTLE, {
                    "at": self._when(payload.delivered_at), "by": payload.delivered_by,
                    "decision": decision.id, "party": payload.recipient_party_id,
                })
                delivered = {r.party_id: r.role for r in recipients if r.settlement}
                delivered[payload.recipient_party_id] = next(
                    r.role for r in recipients if r.party_id == payload.recipient_party_id)
                return decided_outcome("disclose", no_disclosure_reason=None,
                                       delivered_to=delivered.values())
        return None

    async def _parties(self, conn: AsyncConnection, rid: int) -> dict[int, str]:
        return {party_id: role for party_id, role in await conn.execute(PARTIES, {"rid": rid})}

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
            "due_at": self._when(clock.overall.due_at if clock.overall else None),
            "stage_due_at": self._when(timeliness.stage_due_at(clock, state)),
        }

    def _fields(self, payload: EventIn) -> dict[str, Any]:
        return {k: self._column(v) for k, v in msgspec.structs.asdict(payload).items()}

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
