"""The baseline: each transaction of a lifecycle as hand-written SQL, minus ORM, service, machine.

Same engine and connection pool as the service (so the same BEGIN IMMEDIATE on SQLite and
SELECT ... FOR UPDATE on PostgreSQL), the same statements in the same transactions, the same
values written: stage records, salted payload digests, the sha256 link chain, the version bump.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import audit, clocks
from disclosure.db import Database
from disclosure.errors import EventNotAllowed, GuardRefused, NotFound, StaleVersion
from disclosure.outcomes import outcome_of
from disclosure.policy import PolicySettings
from disclosure.schemas import (
    CompleteChecks,
    EventIn,
    NewRequest,
    RecordCheck,
    RecordDecision,
    RecordDelivery,
)
from disclosure.workflow import _same_words


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
    " immediate_risk, policy_version, received_at, due_at, created_at, updated_at, created_by,"
    " version, last_event_hash) VALUES (:reference, :scheme, :route, :area, :division, :channel,"
    " :summary, 'received', :immediate_risk, :policy_version, :received_at, :due_at, :at, :at,"
    " :actor, 0, :genesis) RETURNING id"
)
INSERT_PARTY = text(
    "INSERT INTO parties (request_id, role, name, date_of_birth, address, relationship, sex,"
    " age_band, ethnicity, safe_contact) VALUES (:request_id, :role, :name, :date_of_birth,"
    " :address, :relationship, :sex, :age_band, :ethnicity, :safe_contact)"
)
READ_REQUEST = text("SELECT * FROM requests WHERE reference = :reference")
READ_PARTIES = text("SELECT * FROM parties WHERE request_id = :rid ORDER BY id")
LOCK = "SELECT id, reference, state, version, last_event_hash, policy_version FROM requests" \
    " WHERE reference = :reference"
COUNT_CHECKS = text("SELECT count(*) FROM checks WHERE request_id = :rid")
PARTIES = text("SELECT id, role FROM parties WHERE request_id = :rid")
CHECKS_COMPLETED_BY = text(
    "SELECT actor FROM events WHERE request_id = :rid AND event = 'complete_checks'"
    " ORDER BY seq DESC LIMIT 1"
)
LAST_DECISION = "SELECT {} FROM decisions WHERE request_id = :rid ORDER BY id DESC LIMIT 1"
DECISION_RECIPIENT = text(LAST_DECISION.format("recipient_party_id"))
DECISION_WORDING = text(LAST_DECISION.format("wording"))
NO_DISCLOSURE_REASON = text(LAST_DECISION.format("no_disclosure_reason"))
INSERT_CHECK = text(
    "INSERT INTO checks (request_id, source, information_held, summary, checked_at, recorded_by)"
    " VALUES (:request_id, :source, :information_held, :summary, :checked_at, :recorded_by)"
)
INSERT_EVENT = text(
    "INSERT INTO events (request_id, seq, event, from_state, to_state, actor, occurred_at,"
    " policy_version, payload, payload_salt, payload_digest, prev_hash, hash) VALUES (:rid, :seq,"
    " :event, :from_state, :to_state, :actor, :at, :policy_version, :payload, :salt, :digest,"
    " :prev_hash, :hash)"
)
BUMP = text(
    "UPDATE requests SET state = :state, updated_at = :at, version = :version,"
    " last_event_hash = :hash WHERE id = :rid"
)
CLOSE = text(
    "UPDATE requests SET state = :state, outcome = :outcome, closed_at = :at, updated_at = :at,"
    " version = :version, last_event_hash = :hash WHERE id = :rid"
)
RECEIVED = text("UPDATE requests SET version = :version, last_event_hash = :hash WHERE id = :rid")


def _insert(table: str, columns: list[str]) -> Any:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return text(f"INSERT INTO {table} ({names}) VALUES ({values})")


DECISION_COLUMNS = ["request_id", "recorded_by", *RecordDecision.__struct_fields__]
DELIVERY_COLUMNS = [
    "request_id", "recorded_by", "matches_approved_wording", *RecordDelivery.__struct_fields__
]
INSERT_DECISION = _insert("decisions", DECISION_COLUMNS)
INSERT_DELIVERY = _insert("deliveries", DELIVERY_COLUMNS)


class RawLifecycle:
    """Receive and move requests with hand-written statements over the service's own engine."""

    def __init__(self, db: Database, policy: PolicySettings) -> None:
        self.engine = db.engine
        self.writer = db.engine.execution_options(writer=True)
        self.sqlite = db.dialect == "sqlite"
        self.lock = text(LOCK if self.sqlite else LOCK + " FOR UPDATE")
        self.policy = policy

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
        clock = clocks.request_clock(
            policy, received_at=received_at, stage_starts={}, extensions=[],
            nation=self.policy.nation,
        )
        async with self.writer.begin() as conn:
            number = (
                await conn.execute(NEXT_NUMBER, {"scheme": new.scheme, "year": received_at.year})
            ).scalar_one()
            reference = f"{new.scheme.upper()}-{received_at.year}-{number:06d}"
            rid = (
                await conn.execute(INSERT_REQUEST, {
                    "reference": reference, "scheme": new.scheme, "route": new.route,
                    "area": new.area, "division": new.division, "channel": new.channel,
                    "summary": new.summary, "immediate_risk": new.immediate_risk,
                    "policy_version": policy.code, "received_at": self._when(received_at),
                    "due_at": self._when(clock.overall.due_at if clock.overall else None),
                    "at": self._when(now), "actor": actor, "genesis": audit.GENESIS,
                })
            ).scalar_one()
            link = await self._chain(
                conn, rid=rid, reference=reference, seq=1, prev_hash=audit.GENESIS,
                policy_version=policy.code, event="receive", from_state=None,
                to_state="received", actor=actor, at=now, payload=msgspec.to_builtins(new),
            )
            await conn.execute(INSERT_PARTY, [
                {
                    "request_id": rid,
                    **{k: self._column(v) for k, v in msgspec.structs.asdict(p).items()},
                }
                for p in new.parties
            ])
            await conn.execute(RECEIVED, {"rid": rid, "version": 1, "hash": link})
        # Read back what the caller is shown, in a reader transaction of its own.
        async with self.engine.connect() as conn:
            request = (await conn.execute(READ_REQUEST, {"reference": reference})).one()
            parties = (await conn.execute(READ_PARTIES, {"rid": request.id})).all()
        at_risk = next(p.id for p in parties if p.role == "person_at_risk")
        return Opened(reference, request.version, at_risk)

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
            recipient_role = await self._stage(conn, rid, payload, actor=actor)
            outcome: str | None = None
            if to_state == "closed":
                reason = (await conn.execute(NO_DISCLOSURE_REASON, {"rid": rid})).scalar()
                outcome = outcome_of(
                    payload, recipient_role=recipient_role, no_disclosure_reason=reason
                )
            seq: int = request.version + 1
            link = await self._chain(
                conn, rid=rid, reference=reference, seq=seq, prev_hash=request.last_event_hash,
                policy_version=request.policy_version, event=event, from_state=state,
                to_state=to_state, actor=actor, at=now, payload=msgspec.to_builtins(payload),
            )
            bump = {"rid": rid, "state": to_state, "at": self._when(now), "version": seq,
                    "hash": link}
            if outcome is None:
                await conn.execute(BUMP, bump)
            else:
                await conn.execute(CLOSE, bump | {"outcome": outcome})
        return seq

    async def _stage(
        self, conn: AsyncConnection, rid: int, payload: EventIn, *, actor: str
    ) -> str | None:
        """Check the guards and write the stage record; the role of a delivery's recipient."""
        params = {"request_id": rid, "recorded_by": actor}
        match payload:
            case RecordCheck():
                await conn.execute(INSERT_CHECK, params | self._fields(payload))
            case CompleteChecks():
                if (await conn.execute(COUNT_CHECKS, {"rid": rid})).scalar_one() < 1:
                    raise GuardRefused("complete_checks", "needs at least one recorded check")
            case RecordDecision() | RecordDelivery():
                parties: dict[int, str] = dict((await conn.execute(PARTIES, {"rid": rid})).all())
                completed_by = (await conn.execute(CHECKS_COMPLETED_BY, {"rid": rid})).scalar()
                decided_for = (await conn.execute(DECISION_RECIPIENT, {"rid": rid})).scalar()
                if isinstance(payload, RecordDelivery):
                    if payload.recipient_party_id != decided_for:
                        raise GuardRefused("record_delivery", "not the decided recipient")
                    wording = (await conn.execute(DECISION_WORDING, {"rid": rid})).scalar()
                    await conn.execute(INSERT_DELIVERY, params | self._fields(payload) | {
                        "matches_approved_wording": _same_words(payload.words_used, wording),
                    })
                    return parties.get(payload.recipient_party_id)
                if parties.get(payload.recipient_party_id or 0) in (None, "subject", "referrer"):
                    raise GuardRefused("record_decision", "the recipient must be a party")
                if completed_by == actor:
                    raise GuardRefused("record_decision", "decided by who completed the checks")
                await conn.execute(INSERT_DECISION, params | self._fields(payload))
        return None

    def _fields(self, payload: EventIn) -> dict[str, Any]:
        return {k: self._column(v) for k, v in msgspec.structs.asdict(payload).items()}

    async def _chain(
        self,
        conn: AsyncConnection,
        *,
        rid: int,
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
    ) -> str:
        """Append one link of the trail and return its hash."""
        salt = audit.new_salt()
        digest = audit.payload_digest(payload, salt)
        link = audit.link_hash(
            prev_hash=prev_hash, reference=reference, seq=seq, event=event,
            from_state=from_state, to_state=to_state, actor=actor, occurred_at=at,
            policy_version=policy_version, digest=digest,
        )
        await conn.execute(INSERT_EVENT, {
            "rid": rid, "seq": seq, "event": event, "from_state": from_state,
            "to_state": to_state, "actor": actor, "at": self._when(at),
            "policy_version": policy_version, "payload": msgspec.json.encode(payload).decode(),
            "salt": salt, "digest": digest, "prev_hash": prev_hash, "hash": link,
        })
        return link

