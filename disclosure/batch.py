"""The workflow's batch path: many new requests received and taken through their events in
memory, by the same `Workflow.receive` and `Workflow.transition` as one change at a time, then
written in one transaction (`COPY` on PostgreSQL, `executemany` on SQLite).

Every event goes through the lifecycle machine and its guards as `apply` sends it, so a
sequence the lifecycle refuses raises as `apply` would, and nothing of the batch is written.
The rows, trail links, clocks and seals written are those the same events applied one by one
would write; the trail's salts are random, so only the links differ. For a demo database or
an importer of legacy records: `load` takes each request with its ordered events.
"""

from __future__ import annotations

import itertools
import operator
from collections import defaultdict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

import msgspec
from sqlalchemy import JSON, Table, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import clocks, seals, statistics, timeliness
from disclosure.alerts import repeats
from disclosure.models import Division, ReferenceCounter
from disclosure.records import (
    CLOSURE_TIMES,
    CLOSURES,
    DECISION_RECIPIENTS,
    DECISIONS,
    EVENTS,
    PARTIES,
    REQUESTS,
    STAGE_TIMES,
    TABLES,
    LatestDecision,
    Locked,
    Recipient,
    added,
    party_facts,
    reference_of,
)
from disclosure.schemas import EventIn, NewRequest, PartyView, Transitioned
from disclosure.search import duplicates, index
from disclosure.search.matching import Named
from disclosure.workflow import Workflow
from statemachines.lifecycle import PartyFacts

EXTENSIONS = TABLES["extensions"]
# The rows of times the events give, written after the events.
TIMES = (STAGE_TIMES, CLOSURE_TIMES)
SEARCH_TERMS = TABLES["search_terms"]
REQUEST_LINKS = TABLES["request_links"]
SEALS = TABLES["seals"]
REFERENCE_COUNTERS = TABLES["reference_counters"]
# Written with ids the batch takes from the table's sequence, since other rows and the trail
# name them; the rest get theirs from the database as they are written.
NUMBERED = (REQUESTS, *(t for t in seals.REQUEST_SEALED if t is not REQUESTS))
_BLOCK = 1024
_LOCKED = operator.itemgetter(*Locked._fields)


class Step(msgspec.Struct, kw_only=True, frozen=True):
    """One event of a request's history: what happened, who recorded it, and when."""

    payload: EventIn
    actor: str
    recorded_at: datetime


class History(msgspec.Struct, kw_only=True, frozen=True):
    """A request as received, and its events in the order they were recorded."""

    request: NewRequest
    actor: str
    recorded_at: datetime
    events: list[Step] = msgspec.field(default_factory=list)


class Received(msgspec.Struct, kw_only=True, frozen=True):
    """A request received in a batch: its reference, version and parties with their ids."""

    reference: str
    version: int
    parties: list[PartyView]


class Written(msgspec.Struct, kw_only=True, frozen=True):
    """What a batch wrote: requests, events, and every row in all."""

    requests: int
    events: int
    rows: int


class _Casefile:
    """One request's records, as the database would hold them."""

    __slots__ = ("events", "request", "rows", "times")

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        self.events: list[dict[str, Any]] = []
        # Table name → the rows of times (stage_times, closure_times) the events gave.
        self.times: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # Table name → row id → row, in the order written.
        self.rows: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)


class _Now:
    """The batch's clock: when the step being taken was recorded."""

    def __init__(self) -> None:
        self.at = datetime.min.replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@cache
def _columns(table: Table) -> tuple[tuple[str, Any, bool], ...]:
    """Each column's key, the default a row without it gets, and whether it holds JSON."""
    return tuple(
        (c.key, c.default.arg if c.default is not None and c.default.is_scalar else None,  # type: ignore[attr-defined]
         isinstance(c.type, JSON))
        for c in table.columns
    )


def _stored(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with every column, as the database gives it back: a missing column its default,
    times in UTC, JSON as decoded."""
    stored: dict[str, Any] = {}
    for key, default, json in _columns(table):
        value = row.get(key, default)
        if value is not None:
            if json:
                value = msgspec.json.decode(msgspec.json.encode(value))
            elif type(value) is datetime:
                value = value.astimezone(UTC)
        stored[key] = value
    return stored


class BatchRecords:
    """The records of the requests received in a batch, kept in memory until `write`.

    Only requests received in this batch can be changed in it. What it does not hold (users,
    divisions, requests received before, reference numbers) it reads on the batch's
    connection, and it takes ids from each table's sequence in blocks.
    """

    def __init__(
        self, conn: AsyncConnection, workflow: Workflow, *, alerts_since: datetime | None
    ) -> None:
        self.conn = conn
        self.workflow = workflow
        self.dialect = workflow.db.dialect
        self.alerts_since = alerts_since
        self.casefiles: dict[str, _Casefile] = {}
        self.by_id: dict[int, _Casefile] = {}
        # (table name, id) → the row, for updates and lookups by id.
        self.rows: dict[tuple[str, int], dict[str, Any]] = {}
        self.links: dict[tuple[str, int, int], dict[str, Any]] = {}
        # Each party's search terms as they stand, and as first indexed.
        self.terms: dict[int, list[dict[str, Any]]] = {}
        self.received_terms: dict[int, list[dict[str, Any]]] = {}
        self.indexed: set[int] = set()
        self.counts: dict[tuple[str, ...], int] = {}
        self.numbers: dict[tuple[str, int], int] = {}
        # In the order they happened: each receipt that raises alerts, and each change to a
        # party or its search terms after it was received, which later receipts' searches see;
        # replayed on the batch's connection once its rows are written as received.
        self.happened: list[Callable[[AsyncConnection], Awaitable[Any]]] = []
        self.receipts = 0
        # Each party as received, written first when alerts are raised in this batch.
        self.received_parties: dict[int, dict[str, Any]] = {}
        self._ids: dict[str, Iterator[int]] = {}
        self._divisions: dict[str, list[str]] = {}
        self._roles: dict[tuple[str, str | None], list[str] | None] = {}
        self._written: set[str] = set()

    def _casefile(self, rid: int) -> _Casefile:
        return self.by_id[rid]

    def _of(self, rid: int, table: Table) -> Iterable[dict[str, Any]]:
        return self.by_id[rid].rows[table.name].values()

    # Reading ---------------------------------------------------------------------------

    async def lock(self, reference: str) -> Locked:
        casefile = self.casefiles.get(reference)
        if casefile is None:
            raise LookupError(f"{reference} was not received in this batch")
        return Locked(*_LOCKED(casefile.request))

    async def checks_recorded(self, rid: int) -> int:
        return len(self._casefile(rid).rows["checks"])

    async def prepared_by(self, rid: int, events: Sequence[str]) -> list[tuple[str, str]]:
        return list(dict.fromkeys(
            (e["actor"], e["event"]) for e in self._casefile(rid).events if e["event"] in events
        ))

    async def information_held(self, rid: int) -> tuple[list[str], list[str]]:
        return (
            [c["source"] for c in self._of(rid, TABLES["checks"]) if c["information_held"]],
            [p["agency"] for p in self._of(rid, TABLES["partner_requests"])
             if p["information_held"]],
        )

    async def parties(self, rid: int) -> dict[int, PartyFacts]:
        return party_facts(list(self._of(rid, PARTIES)))

    async def party_rows(self, rid: int) -> list[Mapping[str, Any]]:
        return list(self._of(rid, PARTIES))

    async def party_row(self, party_id: int) -> Mapping[str, Any]:
        return self.rows["parties", party_id]

    async def latest_decision(self, rid: int) -> LatestDecision | None:
        forum = [d for d in self._of(rid, DECISIONS) if not d["urgent"]]
        if not forum:
            return None
        d = forum[-1]
        return LatestDecision(d["id"], d["decision"], d["no_disclosure_reason"], d["decided_at"])

    async def recipients(self, decision_id: int) -> list[Recipient]:
        rid = self.rows["decisions", decision_id]["request_id"]
        return [
            Recipient(r["party_id"], r["wording"], r["settlement"],
                      self.rows["parties", r["party_id"]]["role"])
            for r in self._of(rid, DECISION_RECIPIENTS) if r["decision_id"] == decision_id
        ]

    async def open_partner_requests(self, rid: int) -> frozenset[int]:
        return frozenset(p["id"] for p in self._of(rid, TABLES["partner_requests"])
                         if p["responded_at"] is None)

    async def roles_of(self, username: str, area: str | None) -> list[str] | None:
        if (username, area) not in self._roles:
            query = select(TABLES["users"].c.roles).where(
                TABLES["users"].c.username == username, TABLES["users"].c.disabled_at.is_(None)
            )
            if area is not None:
                query = query.where(TABLES["users"].c.area == area)
            self._roles[username, area] = await self.conn.scalar(query)
        return self._roles[username, area]

    async def reopened(self, rid: int) -> datetime | None:
        return max((row["reopened_at"] for row in self._of(rid, CLOSURES)
                    if row["reopened_seq"] is not None), default=None)

    async def entered(self, rid: int) -> datetime | None:
        for e in reversed(self._casefile(rid).events):
            if e["from_state"] is None or e["from_state"] != e["to_state"]:
                at: datetime = e["occurred_at"]
                return at
        return None

    async def clock(self, request: timeliness.Dated) -> clocks.Clock:
        casefile = self._casefile(request.id)
        entered = [
            (e["to_state"], e["occurred_at"]) for e in casefile.events
            if e["to_state"] in timeliness.STAGE_OF_STATE and e["from_state"] is not None
            and e["from_state"] != e["to_state"]
        ]
        extensions = [
            clocks.Extension(x["days"], x["category"], x["reason"], x["granted_at"])
            for x in casefile.rows[EXTENSIONS.name].values()
        ]
        agreed = []
        for decision in casefile.rows[DECISIONS.name].values():
            dates = [r["deliver_by"] for r in casefile.rows[DECISION_RECIPIENTS.name].values()
                     if r["decision_id"] == decision["id"] and r["deliver_by"] is not None]
            if not decision["urgent"] and dates:
                agreed.append((decision["decided_at"], max(dates)))
        return timeliness.clock_of(request, entered, extensions, agreed, self.workflow.policy)

    async def divisions(self, area: str) -> list[str]:
        if area not in self._divisions:
            self._divisions[area] = list(await self.conn.scalars(
                select(Division.code).where(Division.area == area)
            ))
        return self._divisions[area]

    async def next_reference(self, scheme: str, year: int) -> str:
        key = (scheme, year)
        if key not in self.numbers:
            # Made if missing and locked until the batch commits, so a request received alone
            # meanwhile waits for its number rather than taking one of the batch's.
            upsert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
            self.numbers[key] = (await self.conn.execute(
                upsert(ReferenceCounter).values(scheme=scheme, year=year, last=0)
                .on_conflict_do_update(index_elements=["scheme", "year"],
                                       set_={"last": ReferenceCounter.last})
                .returning(ReferenceCounter.last)
            )).scalar_one()
        self.numbers[key] += 1
        return reference_of(scheme, year, self.numbers[key])

    async def request_in_area(self, reference: str, area: str) -> int | None:
        casefile = self.casefiles.get(reference)
        if casefile is not None:
            return casefile.request["id"] if casefile.request["area"] == area else None
        return await self.conn.scalar(select(REQUESTS.c.id).where(
            REQUESTS.c.reference == reference, REQUESTS.c.area == area
        ))

    # Writing ---------------------------------------------------------------------------

    async def _next_id(self, table: Table) -> int:
        """The next id of `table`, taken from its sequence a block at a time."""
        taken = self._ids.get(table.name)
        if taken is not None and (number := next(taken, None)) is not None:
            return number
        if self.dialect == "postgresql":
            # Each nextval is the caller's alone, whoever else takes ids meanwhile.
            block = await self.conn.scalars(text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id'))"
                " FROM generate_series(1, :n)"
            ), {"table": table.name, "n": _BLOCK})
            self._ids[table.name] = iter(list(block))
        else:
            # SQLite: the batch holds the write lock, so the ids after the highest are its.
            highest = await self.conn.scalar(
                select(table.c.id).order_by(table.c.id.desc()).limit(1)
            )
            self._ids[table.name] = itertools.count((highest or 0) + 1)
        return next(self._ids[table.name])

    async def insert(
        self, table: Table, rows: Sequence[Mapping[str, Any]]
    ) -> Sequence[Mapping[str, Any]]:
        self._written.add(table.name)
        written = []
        for given in rows:
            row = _stored(table, given)
            row["id"] = await self._next_id(table)
            if table is REQUESTS:
                casefile = _Casefile(row)
                self.casefiles[row["reference"]] = casefile
                self.by_id[row["id"]] = casefile
            else:
                self.by_id[row["request_id"]].rows[table.name][row["id"]] = row
            if table is PARTIES:
                self.received_parties[row["id"]] = dict(row)
            self.rows[table.name, row["id"]] = row
            written.append(row)
        return written

    async def update(
        self, table: Table, where: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Sequence[Mapping[str, Any]]:
        if "id" in where:
            found = self.rows.get((table.name, where["id"]))
            candidates = [found] if found is not None else []
        elif "request_id" in where:
            candidates = list(self._of(where["request_id"], table))
        else:
            decision = self.rows[DECISIONS.name, where["decision_id"]]
            candidates = list(self._of(decision["request_id"], table))
        matched = [row for row in candidates
                   if all(row[name] == value for name, value in where.items())]
        self._written.add(table.name)
        changes = {name: value for name, value in _stored(table, values).items()
                   if name in values}
        for row in matched:
            row.update(changes)
            if table is PARTIES:
                self.happened.append(partial(_change_party, party_id=row["id"], values=changes))
        return matched

    def wrote(self, tables: Collection[str]) -> bool:
        # Every transition of the batch counts, so this errs on the side of yes.
        return not self._written.isdisjoint(tables)

    async def append(self, event: Mapping[str, Any]) -> None:
        row = dict(event)
        for name in ("occurred_at", "recorded_at"):
            row[name] = row[name].astimezone(UTC)
        self.by_id[row["request_id"]].events.append(row)

    async def times(self, table: Table, row: Mapping[str, Any]) -> None:
        self.by_id[row["request_id"]].times[table.name].append(_stored(table, row))

    async def link(
        self, *, kind: str, from_id: int, to_id: int, at: datetime, actor: str
    ) -> None:
        # The request linked from is new in this batch, so any link it has is here.
        self.links.setdefault((kind, from_id, to_id), {
            "kind": kind, "from_request_id": from_id, "to_request_id": to_id,
            "created_at": at.astimezone(UTC), "created_by": actor,
        })

    async def index(
        self, *, request_id: int, area: str, parties: Sequence[Mapping[str, Any]]
    ) -> None:
        for party in parties:
            rows = index.rows_of(request_id=request_id, area=area, parties=[party])
            if request_id in self.indexed:
                # Added or changed after the request was received.
                self.happened.append(partial(
                    index.index_parties, request_id=request_id, area=area,
                    parties=[dict(party)],
                ))
            else:
                self.received_terms[party["id"]] = rows
            self.terms[party["id"]] = rows
        self.indexed.add(request_id)

    async def possible_duplicates(
        self, *, request_id: int, area: str, parties: Sequence[Named]
    ) -> duplicates.Found:
        """None: what a batch sends answers nobody, and the request view lists them."""
        return duplicates.NONE

    async def received(
        self, *, rid: int, area: str, received_at: datetime, channel: str, continued: bool,
        parties: Sequence[Named], at: datetime,
    ) -> None:
        # Raised once the batch's rows are written, in the order received, each seeing the
        # requests received before it as it would alone.
        if self.alerts_since is None or received_at >= self.alerts_since:
            self.receipts += 1
            self.happened.append(partial(
                repeats.raise_on_receive, dialect=self.dialect, policy=self.workflow.finding,
                request_id=rid, area=area, received_at=received_at, channel=channel,
                continued=continued, parties=list(parties), at=at,
            ))

    async def subject_added(self, request: Locked, party: Named, *, at: datetime) -> None:
        # As a receipt's: after the rows are written, counting only the requests received by
        # then, as if the subject had been added alone.
        if self.alerts_since is None or at >= self.alerts_since:
            self.receipts += 1
            self.happened.append(partial(
                repeats.raise_on_subject_added, dialect=self.dialect,
                policy=self.workflow.finding, **added(request), party=party, at=at,
                latest=max(self.by_id),
            ))

    async def count(
        self, *, was: statistics.Standing | None, now: statistics.Standing
    ) -> None:
        for row in statistics.moves(was, now):
            key = tuple(row[k] for k in row if k != "requests")
            self.counts[key] = self.counts.get(key, 0) + row["requests"]

    async def seal(self) -> None:
        """Rows are sealed as they finally stand, when the batch is written."""

    async def write(self) -> Written:
        keys = self.workflow.db.keys
        tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
        sealed: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        times: dict[str, list[dict[str, Any]]] = {t.name: [] for t in TIMES}
        for rid, casefile in self.by_id.items():
            macs = []
            for table in NUMBERED[1:]:
                names = list(table.c.keys())
                for row in casefile.rows[table.name].values():
                    mac = keys.sign(seals.message(table.name, row["id"], names,
                                                  [row[n] for n in names]))
                    macs.append(mac)
                    tables[table.name].append(row)
                    sealed.append({"table_name": table.name, "row_id": row["id"],
                                   "request_id": rid, "key_id": keys.current, "mac": mac,
                                   "rows": None})
            digest = seals.rows_digest(",".join(macs))
            names = list(REQUESTS.c.keys())
            tables[REQUESTS.name].append(casefile.request)
            sealed.append({
                "table_name": REQUESTS.name, "row_id": rid, "request_id": rid,
                "key_id": keys.current, "rows": digest,
                "mac": keys.sign(seals.message(REQUESTS.name, rid, names,
                                               [casefile.request[n] for n in names], digest)),
            })
            events += casefile.events
            for name, rows in casefile.times.items():
                times[name] += rows
        written = 0
        for table in NUMBERED:
            written += await self._copy(table, tables[table.name], with_id=True)
        written += await self._copy(EVENTS, events, with_id=False)
        for table in TIMES:
            written += await self._copy(table, times[table.name], with_id=False)
        written += await self._copy(SEALS, sealed, with_id=False)
        # With alerts to raise, the terms and parties as received; `_alerts` brings them on.
        terms = self.received_terms if self.receipts else self.terms
        written += await self._copy(
            SEARCH_TERMS, [row for rows in terms.values() for row in rows], with_id=False
        )
        written += await self._copy(REQUEST_LINKS, list(self.links.values()), with_id=False)
        await statistics.add(self.conn, self.dialect, [
            dict(zip(("area", "scheme", "route", "state", "outcome"), key, strict=True))
            | {"requests": n} for key, n in sorted(self.counts.items())
        ])
        await self._numbers()
        await self._alerts()
        return Written(requests=len(self.by_id), events=len(events), rows=written)

    async def _alerts(self) -> None:
        """Raise each receipt's alerts in turn, the parties as they stood when it came:
        written as received, then changed as they were between receipts."""
        if not self.receipts:
            return
        for party_id, row in self.received_parties.items():
            if row != self.rows[PARTIES.name, party_id]:
                await _change_party(self.conn, party_id=party_id, values=row)
        for step in self.happened:
            await step(self.conn)

    async def _numbers(self) -> None:
        counter = REFERENCE_COUNTERS.c
        for (scheme, year), last in sorted(self.numbers.items()):
            await self.conn.execute(
                update(ReferenceCounter).where(counter.scheme == scheme, counter.year == year)
                .values(last=last)
            )

    async def _copy(self, table: Table, rows: list[dict[str, Any]], *, with_id: bool) -> int:
        if not rows:
            return 0
        names = [c.key for c in table.columns if with_id or c.key != "id"]
        if self.dialect != "postgresql":
            await self.conn.execute(insert(table), [{n: r.get(n) for n in names} for r in rows])
            return len(rows)
        json = {c.key for c in table.columns if isinstance(c.type, JSON)}
        encode = msgspec.json.encode

        def value(row: dict[str, Any], name: str) -> Any:
            v = row.get(name)
            return encode(v).decode() if name in json and v is not None else v

        raw = await self.conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, columns=names, records=[tuple(value(r, n) for n in names) for r in rows]
        )
        return len(rows)


async def _change_party(conn: AsyncConnection, *, party_id: int, values: dict[str, Any]) -> None:
    await conn.execute(update(PARTIES).where(PARTIES.c.id == party_id).values(values))


class Batch:
    """Requests received and changed in memory by the workflow's own flow; see the module."""

    def __init__(
        self, workflow: Workflow, conn: AsyncConnection, *, alerts_since: datetime | None
    ) -> None:
        self._clock = _Now()
        self.workflow = Workflow(
            workflow.db, workflow.policy, now=self._clock, finding=workflow.finding
        )
        self._now = workflow.now
        self.records = BatchRecords(conn, self.workflow, alerts_since=alerts_since)

    def _at(self, recorded_at: datetime | None) -> None:
        self._clock.at = (recorded_at or self._now()).astimezone(UTC)

    async def create(
        self, new: NewRequest, *, actor: str, recorded_at: datetime | None = None
    ) -> Received:
        """Receive a request, as `Workflow.create` does; recorded `recorded_at` (or now)."""
        self._at(recorded_at)
        request, parties = await self.workflow.receive(self.records, new, actor=actor)
        return Received(reference=request["reference"], version=1, parties=parties)

    async def apply(
        self, reference: str, payload: EventIn, *, actor: str, expected_version: int,
        recorded_at: datetime | None = None,
    ) -> Transitioned:
        """Send an event to a request received in this batch, as `Workflow.apply` does."""
        self._at(recorded_at)
        return await self.workflow.transition(
            self.records, reference, payload, actor=actor, expected_version=expected_version,
        )

    async def parties(self, reference: str) -> list[PartyView]:
        """A request's parties as they stand, with their ids."""
        rows = self.records.casefiles[reference].rows[PARTIES.name].values()
        return [msgspec.convert(row, PartyView) for row in rows]

    async def partner_requests(self, reference: str) -> list[int]:
        """The ids of a request's partner requests, in the order asked."""
        return list(self.records.casefiles[reference].rows["partner_requests"])

    async def load(self, histories: Iterable[History]) -> list[str]:
        """Receive each request and send its events in order; the references given."""
        references = []
        for history in histories:
            received = await self.create(
                history.request, actor=history.actor, recorded_at=history.recorded_at
            )
            version = received.version
            for step in history.events:
                done = await self.apply(
                    received.reference, step.payload, actor=step.actor,
                    expected_version=version, recorded_at=step.recorded_at,
                )
                version = done.version
            references.append(received.reference)
        return references


@asynccontextmanager
async def batch(
    workflow: Workflow, *, alerts_since: datetime | None = None
) -> AsyncIterator[Batch]:
    """A batch in one write transaction: written and committed when the block ends, and
    nothing written if it raises. With `alerts_since`, only requests received since then
    raise repeat-subject alerts (alerts about old history would long since be reviewed)."""
    async with workflow.db.write() as session, session.begin():
        opened = Batch(workflow, await session.connection(), alerts_since=alerts_since)
        yield opened
        await opened.records.write()
