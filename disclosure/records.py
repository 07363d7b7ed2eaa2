"""What a transition reads and writes of a request's records, and where: `Records` is the
interface the workflow's one flow (`Workflow.apply` and the receipt of a request) is written
against; `SqlRecords` keeps the records in the database, a statement at a time, for a single
change; `disclosure.batch.BatchRecords` keeps many new requests' records in memory and writes
them at once. Both answer every question the same way, so the flow is the same code."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import clocks, seals, statistics, timeliness
from disclosure.alerts import repeats
from disclosure.db import Database
from disclosure.errors import NotFound
from disclosure.models import Base, Division, ReferenceCounter
from disclosure.policy import PolicySettings
from disclosure.search import duplicates, index, links
from disclosure.search.matching import FindingPolicy, Named
from statemachines.lifecycle import PartyFacts

TABLES = Base.metadata.tables
REQUESTS = TABLES["requests"]
EVENTS = TABLES["events"]
PARTIES = TABLES["parties"]
CHECKS = TABLES["checks"]
PARTNER_REQUESTS = TABLES["partner_requests"]
DECISIONS = TABLES["decisions"]
DECISION_RECIPIENTS = TABLES["decision_recipients"]
USERS = TABLES["users"]
STAGE_TIMES = TABLES["stage_times"]
CLOSURE_TIMES = TABLES["closure_times"]
CLOSURES = TABLES["closures"]


class Locked(NamedTuple):
    """The columns of a request an event reads, taken under the row lock."""

    id: int
    reference: str
    scheme: str
    route: str
    area: str
    state: str
    outcome: str | None
    version: int
    last_event_hash: str
    policy_version: str
    received_at: datetime
    due_at: datetime | None
    stage_due_at: datetime | None
    division: str | None
    channel: str
    immediate_risk: bool
    continued_from_id: int | None


class LatestDecision(NamedTuple):
    """The latest decision of the forum: its id, what it decided, why not, and when."""

    id: int
    decision: str
    no_disclosure_reason: str | None
    decided_at: datetime


class Recipient(NamedTuple):
    """A recipient of a decision, with the role of its party."""

    party_id: int
    wording: str
    settlement: str | None
    role: str


class Records(Protocol):
    """The questions a transition asks of a request's records, and the rows it writes.

    Casework rows (`insert`, `update`) are sealed in the same transaction; `update` matches
    rows by column equality, None matching NULL.
    """

    async def lock(self, reference: str) -> Locked: ...
    async def checks_recorded(self, rid: int) -> int: ...
    async def prepared_by(self, rid: int, events: Sequence[str]) -> list[tuple[str, str]]:
        """Each actor who sent one of `events`, with the first such event, earliest first."""
        ...
    async def information_held(self, rid: int) -> tuple[list[str], list[str]]:
        """The sources of checks and the agencies of partner responses that held something."""
        ...
    async def parties(self, rid: int) -> dict[int, PartyFacts]: ...
    async def party_rows(self, rid: int) -> list[Mapping[str, Any]]: ...
    async def party_row(self, party_id: int) -> Mapping[str, Any]: ...
    async def latest_decision(self, rid: int) -> LatestDecision | None:
        """The latest decision of the forum; urgent disclosures are never the one awaited."""
        ...
    async def recipients(self, decision_id: int) -> list[Recipient]: ...
    async def open_partner_requests(self, rid: int) -> frozenset[int]: ...
    async def roles_of(self, username: str, area: str | None) -> list[str] | None:
        """An active user's roles (of `area`, if given); None if there is no such user."""
        ...
    async def entered(self, rid: int) -> datetime | None:
        """When the request entered its state: its last event that changed the state."""
        ...
    async def clock(self, request: timeliness.Dated) -> clocks.Clock: ...
    async def divisions(self, area: str) -> list[str]: ...
    async def next_reference(self, scheme: str, year: int) -> str: ...
    async def request_in_area(self, reference: str, area: str) -> int | None: ...
    async def insert(
        self, table: Table, rows: Sequence[Mapping[str, Any]]
    ) -> Sequence[Mapping[str, Any]]:
        """Write casework rows; each as stored, with its id, in the order given."""
        ...
    async def update(
        self, table: Table, where: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Sequence[Mapping[str, Any]]:
        """Change the casework rows matching `where`; each as stored afterwards."""
        ...
    def wrote(self, tables: Collection[str]) -> bool:
        """Whether `insert` or `update` has written a row of one of these tables (at least
        since this transaction began)."""
        ...
    async def append(self, event: Mapping[str, Any]) -> None:
        """Add an event to its request's trail."""
        ...
    async def reopened(self, rid: int) -> datetime | None:
        """When the request was last reopened; None if it never was."""
        ...
    async def times(self, table: Table, row: Mapping[str, Any]) -> None:
        """Record the times of a state an event has moved a request out of (`StageTime`), or of
        a closing (`ClosureTime`): rows the trail gives, not sealed."""
        ...
    async def link(
        self, *, kind: str, from_id: int, to_id: int, at: datetime, actor: str
    ) -> None: ...
    async def index(
        self, *, request_id: int, area: str, parties: Sequence[Mapping[str, Any]]
    ) -> None:
        """(Re)write the search terms of these parties."""
        ...
    async def possible_duplicates(
        self, *, request_id: int, area: str, parties: Sequence[Named]
    ) -> duplicates.Found:
        """Other requests of the area naming the same people, for an event's answer."""
        ...
    async def received(
        self, *, rid: int, area: str, received_at: datetime, channel: str, continued: bool,
        parties: Sequence[Named], at: datetime,
    ) -> None:
        """A request has been received with these parties: raise repeat-subject alerts."""
        ...
    async def subject_added(self, request: Locked, party: Named, *, at: datetime) -> None:
        """A subject has been added to a request: count him as if named at its receipt."""
        ...
    async def count(
        self, *, was: statistics.Standing | None, now: statistics.Standing
    ) -> None: ...
    async def seal(self) -> None:
        """Seal what was written since the last call, before the transaction commits."""
        ...


# Built once each: a statement's cache key is then worked out once, not on every call.
def _entered(request_id: Any) -> Any:
    """When a request entered its state: its last event that changed the state."""
    return (
        select(EVENTS.c.occurred_at)
        .where(
            EVENTS.c.request_id == request_id,
            or_(EVENTS.c.from_state.is_(None), EVENTS.c.from_state != EVENTS.c.to_state),
        )
        .order_by(EVENTS.c.seq.desc())
        .limit(1)
    )


_ENTERED = _entered(bindparam("rid"))
# The request's row under the lock, and when it entered its state in the same trip. Waiting
# for the lock, PostgreSQL gives the row as the writer before left it but this subquery as it
# stood when the statement began; a writer that appended an event also moved the version, so
# the event is then refused as stale before the time is used.
_LOCK = (
    select(*(REQUESTS.c[name] for name in Locked._fields),
           _entered(REQUESTS.c.id).scalar_subquery())
    .where(REQUESTS.c.reference == bindparam("reference"))
    .with_for_update()
)
_COUNT_CHECKS = select(func.count()).where(CHECKS.c.request_id == bindparam("rid"))
_PREPARED_BY = (
    select(EVENTS.c.actor, func.min(EVENTS.c.seq), EVENTS.c.event)
    .where(EVENTS.c.request_id == bindparam("rid"),
           EVENTS.c.event.in_(bindparam("events", expanding=True)))
    .group_by(EVENTS.c.actor, EVENTS.c.event)
    .order_by(func.min(EVENTS.c.seq))
)
_PARTIES = select(PARTIES).where(PARTIES.c.request_id == bindparam("rid")).order_by(PARTIES.c.id)
_PARTY = select(PARTIES).where(PARTIES.c.id == bindparam("id"))
_CHECKS_HELD = select(CHECKS.c.source).where(
    CHECKS.c.request_id == bindparam("rid"), CHECKS.c.information_held.is_(True)
).order_by(CHECKS.c.id)
_RESPONSES_HELD = select(PARTNER_REQUESTS.c.agency).where(
    PARTNER_REQUESTS.c.request_id == bindparam("rid"),
    PARTNER_REQUESTS.c.information_held.is_(True),
).order_by(PARTNER_REQUESTS.c.id)
_LATEST_DECISION = (
    select(
        DECISIONS.c.id, DECISIONS.c.decision, DECISIONS.c.no_disclosure_reason,
        DECISIONS.c.decided_at,
    )
    .where(DECISIONS.c.request_id == bindparam("rid"), DECISIONS.c.urgent.is_(False))
    .order_by(DECISIONS.c.id.desc())
    .limit(1)
)
_RECIPIENTS = select(
    DECISION_RECIPIENTS.c.party_id, DECISION_RECIPIENTS.c.wording,
    DECISION_RECIPIENTS.c.settlement, PARTIES.c.role,
).join(PARTIES, PARTIES.c.id == DECISION_RECIPIENTS.c.party_id).where(
    DECISION_RECIPIENTS.c.decision_id == bindparam("decision")
).order_by(DECISION_RECIPIENTS.c.id)
_ROLES = select(USERS.c.roles).where(
    USERS.c.username == bindparam("username"), USERS.c.disabled_at.is_(None)
)
_ROLES_IN_AREA = _ROLES.where(USERS.c.area == bindparam("area"))
_OPEN_PARTNER_REQUESTS = select(PARTNER_REQUESTS.c.id).where(
    PARTNER_REQUESTS.c.request_id == bindparam("rid"), PARTNER_REQUESTS.c.responded_at.is_(None)
)
_DIVISIONS = select(Division.code).where(Division.area == bindparam("area"))
_IN_AREA = select(REQUESTS.c.id).where(
    REQUESTS.c.reference == bindparam("reference"), REQUESTS.c.area == bindparam("area")
)
_INSERT_EVENT = insert(EVENTS)
# Written as the partial index of reopened closures is, so that it is read there.
_REOPENED = select(func.max(CLOSURES.c.reopened_at)).where(
    CLOSURES.c.request_id == bindparam("rid"), CLOSURES.c.reopened_seq.is_not(None))


@cache
def _insert(table: Table) -> Any:
    return insert(table)


@cache
def _update(table: Table, where: tuple[tuple[str, bool], ...]) -> Any:
    """UPDATE of `table` where each named column equals its `where_` parameter (or, flagged,
    is NULL); the SET clause is the other parameters given."""
    return update(table).where(and_(*(
        table.c[name].is_(None) if null else table.c[name] == bindparam(f"where_{name}")
        for name, null in where
    )))


def reference_of(scheme: str, year: int, number: int) -> str:
    return f"{scheme.upper()}-{year}-{number:06d}"


class SqlRecords:
    """The records of a request in the database, read and written on one transaction's
    connection: one change at a time, each row sealed as the database stored it."""

    def __init__(
        self, conn: AsyncConnection, db: Database, policy: PolicySettings,
        finding: FindingPolicy,
    ) -> None:
        self.conn = conn
        self.dialect = db.dialect
        self.policy = policy
        self.finding = finding
        self.sealer = seals.Sealer(conn, db.keys)
        self._written: set[str] = set()
        # When each locked request entered its state, read with the lock, until its trail grows.
        self._entered: dict[int, datetime | None] = {}

    async def lock(self, reference: str) -> Locked:
        row = (await self.conn.execute(_LOCK, {"reference": reference})).first()
        if row is None:
            raise NotFound(reference)
        *columns, entered = row
        locked = Locked(*columns)
        self._entered[locked.id] = entered
        return locked

    async def checks_recorded(self, rid: int) -> int:
        return await self.conn.scalar(_COUNT_CHECKS, {"rid": rid}) or 0

    async def prepared_by(self, rid: int, events: Sequence[str]) -> list[tuple[str, str]]:
        rows = await self.conn.execute(_PREPARED_BY, {"rid": rid, "events": list(events)})
        return [(actor, event) for actor, _, event in rows]

    async def information_held(self, rid: int) -> tuple[list[str], list[str]]:
        return (list(await self.conn.scalars(_CHECKS_HELD, {"rid": rid})),
                list(await self.conn.scalars(_RESPONSES_HELD, {"rid": rid})))

    async def parties(self, rid: int) -> dict[int, PartyFacts]:
        return party_facts(await self.party_rows(rid))

    async def party_rows(self, rid: int) -> list[Mapping[str, Any]]:
        return [dict(row) for row in (await self.conn.execute(_PARTIES, {"rid": rid})).mappings()]

    async def party_row(self, party_id: int) -> Mapping[str, Any]:
        return dict((await self.conn.execute(_PARTY, {"id": party_id})).mappings().one())

    async def latest_decision(self, rid: int) -> LatestDecision | None:
        row = (await self.conn.execute(_LATEST_DECISION, {"rid": rid})).first()
        return None if row is None else LatestDecision(*row)

    async def recipients(self, decision_id: int) -> list[Recipient]:
        rows = await self.conn.execute(_RECIPIENTS, {"decision": decision_id})
        return [Recipient(*row) for row in rows]

    async def open_partner_requests(self, rid: int) -> frozenset[int]:
        return frozenset(await self.conn.scalars(_OPEN_PARTNER_REQUESTS, {"rid": rid}))

    async def roles_of(self, username: str, area: str | None) -> list[str] | None:
        if area is None:
            return await self.conn.scalar(_ROLES, {"username": username})
        return await self.conn.scalar(_ROLES_IN_AREA, {"username": username, "area": area})

    async def entered(self, rid: int) -> datetime | None:
        if rid in self._entered:
            return self._entered[rid]
        entered: datetime | None = await self.conn.scalar(_ENTERED, {"rid": rid})
        return entered

    async def clock(self, request: timeliness.Dated) -> clocks.Clock:
        return await timeliness.request_clock(self.conn, request, self.policy)

    async def divisions(self, area: str) -> list[str]:
        return list(await self.conn.scalars(_DIVISIONS, {"area": area}))

    async def next_reference(self, scheme: str, year: int) -> str:
        upsert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = (
            upsert(ReferenceCounter)
            .values(scheme=scheme, year=year, last=1)
            .on_conflict_do_update(
                index_elements=["scheme", "year"], set_={"last": ReferenceCounter.last + 1}
            )
            .returning(ReferenceCounter.last)
        )
        return reference_of(scheme, year, (await self.conn.execute(statement)).scalar_one())

    async def request_in_area(self, reference: str, area: str) -> int | None:
        return await self.conn.scalar(_IN_AREA, {"reference": reference, "area": area})

    async def insert(
        self, table: Table, rows: Sequence[Mapping[str, Any]]
    ) -> Sequence[Mapping[str, Any]]:
        params = [dict(row) for row in rows]
        written = await self.sealer.write(_insert(table), params if len(params) > 1 else params[0])
        self._written.add(table.name)
        return [row._mapping for row in written]

    async def update(
        self, table: Table, where: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Sequence[Mapping[str, Any]]:
        statement = _update(table, tuple((name, value is None) for name, value in where.items()))
        params = {f"where_{name}": value for name, value in where.items() if value is not None}
        written = await self.sealer.write(statement, params | dict(values))
        self._written.add(table.name)
        return [row._mapping for row in written]

    def wrote(self, tables: Collection[str]) -> bool:
        return not self._written.isdisjoint(tables)

    async def append(self, event: Mapping[str, Any]) -> None:
        self._entered.pop(event["request_id"], None)
        await self.conn.execute(_INSERT_EVENT, dict(event))

    async def reopened(self, rid: int) -> datetime | None:
        at: datetime | None = await self.conn.scalar(_REOPENED, {"rid": rid})
        return at

    async def times(self, table: Table, row: Mapping[str, Any]) -> None:
        await self.conn.execute(_insert(table), dict(row))

    async def link(
        self, *, kind: str, from_id: int, to_id: int, at: datetime, actor: str
    ) -> None:
        await links.link(self.conn, kind=kind, from_id=from_id, to_id=to_id, at=at, actor=actor)

    async def index(
        self, *, request_id: int, area: str, parties: Sequence[Mapping[str, Any]]
    ) -> None:
        await index.index_parties(self.conn, request_id=request_id, area=area, parties=parties)

    async def possible_duplicates(
        self, *, request_id: int, area: str, parties: Sequence[Named]
    ) -> duplicates.Found:
        return await duplicates.possible(
            self.conn, self.dialect, self.finding, request_id=request_id, area=area,
            parties=parties,
        )

    async def received(
        self, *, rid: int, area: str, received_at: datetime, channel: str, continued: bool,
        parties: Sequence[Named], at: datetime,
    ) -> None:
        await repeats.raise_on_receive(
            self.conn, self.dialect, self.finding, request_id=rid, area=area,
            received_at=received_at, channel=channel, continued=continued, parties=parties,
            at=at,
        )

    async def subject_added(self, request: Locked, party: Named, *, at: datetime) -> None:
        await repeats.raise_on_subject_added(
            self.conn, self.dialect, self.finding, **added(request), party=party, at=at,
        )

    async def count(
        self, *, was: statistics.Standing | None, now: statistics.Standing
    ) -> None:
        await statistics.count(self.conn, self.dialect, was=was, now=now)

    async def seal(self) -> None:
        await self.sealer.flush()


def added(request: Locked) -> dict[str, Any]:
    """What `repeats.raise_on_subject_added` reads of the request a subject was added to."""
    return {"request_id": request.id, "area": request.area, "received_at": request.received_at,
            "channel": request.channel, "continued": request.continued_from_id is not None}


def party_facts(rows: Sequence[Mapping[str, Any]]) -> dict[int, PartyFacts]:
    """What the recipient rules read of each party, by id."""
    return {
        row["id"]: PartyFacts(role=row["role"], kind=row["kind"],
                              relationship_code=row["relationship_code"])
        for row in rows
    }
