"""The tamper-evident trail: each event a MAC, under a key the database does not hold, over the
one before it; and the verification of every chain and every row seal."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any, Final, NamedTuple

import msgspec
from sqlalchemy import Table, Text, bindparam, cast, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import reads, seals
from disclosure.db import Database
from disclosure.keys import TrailKeys
from disclosure.models import Base

GENESIS = "0" * 64
# The trail's own event: a payload erased for retention, authorised and recorded.
ERASE = "erase_payload"

EVENTS = Base.metadata.tables["events"]
REQUESTS = Base.metadata.tables["requests"]


def payload_digest(payload: dict[str, Any], salt: str) -> str:
    """Digest of a payload; the random salt keeps a low-entropy payload from being guessed."""
    body = msgspec.json.encode(payload, order="sorted")
    return hashlib.sha256(bytes.fromhex(salt) + body).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def link_message(
    *,
    prev_hash: str,
    reference: str,
    seq: int,
    event: str,
    from_state: str | None,
    to_state: str,
    actor: str,
    occurred_at: datetime,
    policy_version: str,
    digest: str,
    recorded_at: datetime | None = None,
) -> bytes:
    """What one link's MAC covers; the payload only through its digest, so erasure is safe.

    The time an event was recorded is covered only when it differs from the time it happened,
    so links written before the two were told apart (keyed by `audit reseal`) verify as they
    were written.
    """
    fields = [
        prev_hash,
        reference,
        seq,
        event,
        from_state,
        to_state,
        actor,
        occurred_at.isoformat(),
        policy_version,
        digest,
    ]
    if recorded_at is not None and recorded_at != occurred_at:
        fields.append(recorded_at.isoformat())
    return msgspec.json.encode(fields)


def link(keys: TrailKeys, **fields: Any) -> tuple[str, str]:
    """The key id and MAC of a new link under the current key."""
    return keys.current, keys.sign(link_message(**fields))


def next_link(
    keys: TrailKeys,
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
    recorded_at: datetime,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The next link of a chain: the columns of its row, but whose chain it is.

    `at` is when the event happened, `recorded_at` when it was entered.
    """
    salt = new_salt()
    digest = payload_digest(payload, salt)
    key_id, mac = link(
        keys, prev_hash=prev_hash, reference=reference, seq=seq, event=event,
        from_state=from_state, to_state=to_state, actor=actor, occurred_at=at,
        recorded_at=recorded_at, policy_version=policy_version, digest=digest,
    )
    return {
        "seq": seq, "event": event, "from_state": from_state, "to_state": to_state,
        "actor": actor, "occurred_at": at, "recorded_at": recorded_at,
        "policy_version": policy_version,
        "payload": payload, "payload_salt": salt, "payload_digest": digest,
        "prev_hash": prev_hash, "hash": mac, "key_id": key_id,
    }


class Verdict(msgspec.Struct, frozen=True):
    """The result of checking the trail: the counts, and what does not verify (the first of it
    in `reference`, `seq` and `problem`; up to 100 in `problems`)."""

    ok: bool
    requests_checked: int
    events_checked: int
    reference: str | None = None
    seq: int | None = None
    problem: str | None = None
    views_checked: int = 0
    rows_checked: int = 0
    nominals_checked: int = 0
    nominal_events_checked: int = 0
    area: str | None = None
    problems: list[seals.Broken] = msgspec.field(default_factory=list)


NOMINALS = Base.metadata.tables["nominals"]
NOMINAL_EVENTS = Base.metadata.tables["nominal_events"]


class Trail(NamedTuple):
    """A kind of hash-chained trail: the records that own a chain each, and its links."""

    name: str
    owners: Table
    links: Table
    owner_key: str


REQUEST_TRAIL: Final = Trail("events", REQUESTS, EVENTS, "request_id")
NOMINAL_TRAIL: Final = Trail("nominal_events", NOMINALS, NOMINAL_EVENTS, "nominal_id")


def _chain_columns(trail: Trail) -> tuple[Any, ...]:
    owner, link = trail.owners.c, trail.links.c
    return (
        owner.id, owner.reference, owner.version, owner.last_event_hash,
        link.seq, link.event, link.from_state, link.to_state, link.actor, link.occurred_at,
        link.policy_version, cast(link.payload, Text), link.payload_salt, link.payload_digest,
        link.prev_hash, link.hash, link.key_id, link.recorded_at,
    )


class _Chain:
    """One chain (a request's or a nominal's) as it streams past: what the rows after it must
    agree with."""

    __slots__ = (
        "broken", "erased", "erasures", "head", "noun", "prev", "reference", "seq", "version",
    )

    def __init__(self, reference: str, version: int, head: str, noun: str = "request") -> None:
        self.noun = noun
        self.reference = reference
        self.version = version
        self.head = head
        self.prev = GENESIS
        self.seq = 0
        self.erased: set[int] = set()
        self.erasures: set[int] = set()
        self.broken = False

    def close(self) -> tuple[int | None, str] | None:
        if self.broken:
            return None
        unexplained = self.erased - self.erasures
        if unexplained:
            seq = min(unexplained)
            return seq, f"payload of event {seq} was removed without an erasure event"
        if self.version != self.seq:
            return self.seq + 1, (
                f"{self.noun} is at version {self.version} but has {self.seq} events"
            )
        if self.head != self.prev:
            return None, f"the {self.noun}'s last hash does not match its trail"
        return None


def _check_event(keys: TrailKeys, chain: _Chain, row: Any) -> tuple[int, str] | None:
    (_, reference, _, _, seq, event, from_state, to_state, actor, occurred_at, policy_version,
     stored, salt, digest, prev_hash, mac, key_id, recorded_at) = row
    expected = chain.seq + 1
    if seq != expected:
        return expected, f"event {expected} is missing"
    if prev_hash != chain.prev:
        return seq, "does not link to the event before it"
    # The payload comes as the JSON text the database holds; a JSON null is an erased payload.
    payload = None if stored is None else msgspec.json.decode(stored)
    if payload is not None:
        if salt is None or payload_digest(payload, salt) != digest:
            return seq, "payload does not match its digest"
        if event == ERASE:
            chain.erasures.add(payload.get("seq"))
    elif salt is not None:
        return seq, "payload missing but not erased"
    elif event == ERASE:
        return seq, "the erasure's own payload is missing"
    else:
        chain.erased.add(seq)
    if key_id is None:
        return seq, "is not keyed: written before the trail was keyed (see `audit reseal`)"
    recomputed = keys.mac(key_id, link_message(
        prev_hash=prev_hash, reference=reference, seq=seq, event=event, from_state=from_state,
        to_state=to_state, actor=actor, occurred_at=occurred_at, recorded_at=recorded_at,
        policy_version=policy_version, digest=digest,
    ))
    if recomputed is None:
        return seq, f"is keyed with key {key_id}, which the trail key file does not hold"
    if recomputed != mac:
        return seq, "event fields do not match its hash"
    chain.prev, chain.seq = mac, seq
    return None


async def verify_chains(
    conn: AsyncConnection,
    keys: TrailKeys,
    found: list[seals.Broken],
    *,
    reference: str | None = None,
    area: str | None = None,
    trail: Trail = REQUEST_TRAIL,
) -> tuple[int, int]:
    """Walk every chain of a trail (by default the requests' events) in one stream, adding the
    first broken link of each to `found`; the number of chains and of links checked."""
    owners, links = trail.owners, trail.links
    query = (
        select(*_chain_columns(trail))
        .outerjoin(links, links.c[trail.owner_key] == owners.c.id)
        .order_by(owners.c.id, links.c.seq)
    )
    if reference is not None:
        query = query.where(owners.c.reference == reference)
    if area is not None:
        query = query.where(owners.c.area == area)
    requests = events = 0
    current: int | None = None
    chain: _Chain | None = None

    def broken(at: _Chain, fault: tuple[int | None, str]) -> bool:
        found.append(seals.Broken(trail.name, at.reference, *fault))
        at.broken = True
        return len(found) >= seals.LIMIT

    async for batch in seals.driver_batches(conn, query):
        for row in batch:
            if row[0] != current:
                if chain is not None and (fault := chain.close()) and broken(chain, fault):
                    return requests, events
                current = row[0]
                chain = _Chain(row[1], row[2], row[3], trail.owners.name.removesuffix("s"))
                requests += 1
            assert chain is not None
            if row[4] is None:
                continue
            events += 1
            if chain.broken:
                continue
            if (fault := _check_event(keys, chain, row)) and broken(chain, fault):
                return requests, events
    if chain is not None and (fault := chain.close()):
        broken(chain, fault)
    return requests, events


async def verify(
    db: Database, *, reference: str | None = None, area: str | None = None
) -> Verdict:
    """Check the event chains, the view chains and every row seal (of one request or one area,
    if given): the counts, and what does not verify."""
    found: list[seals.Broken] = []
    async with db.engine.connect() as conn:
        requests, events = await verify_chains(
            conn, db.keys, found, reference=reference, area=area
        )
        nominals = nominal_events = 0
        if reference is None:
            nominals, nominal_events = await verify_chains(
                conn, db.keys, found, area=area, trail=NOMINAL_TRAIL
            )
        views = await reads.verify(conn, db.keys, found, reference=reference, area=area)
        rows = await seals.verify(conn, db.keys, found, area=area, reference=reference)
    first = found[0] if found else None
    return Verdict(
        ok=not found, requests_checked=requests, events_checked=events,
        reference=first.reference if first else None, seq=first.seq if first else None,
        problem=first.problem if first else None, views_checked=views, rows_checked=rows,
        nominals_checked=nominals, nominal_events_checked=nominal_events, area=area,
        problems=found[:seals.LIMIT],
    )


# Keying a trail written before keys ----------------------------------------------------------


class Resealed(msgspec.Struct, frozen=True):
    """What `reseal` did: the requests it keyed and sealed, and those it could not vouch for."""

    requests: int
    events: int
    views: int
    rows: int
    unverified: list[str]


def _legacy(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


async def _rekey_chain(
    conn: AsyncConnection, keys: TrailKeys, table: Any, rid: int, reference: str,
    message: Any,
) -> tuple[list[dict[str, Any]], str, str] | None:
    """One request's unkeyed chain re-linked under the current key, if it verifies under the
    plain SHA-256 it was written with: the rows' new values, the old head and the new head."""
    rows = (await conn.execute(
        select(table).where(table.c.request_id == rid).order_by(table.c.seq)
    )).mappings().all()
    prev, new_prev = GENESIS, GENESIS
    rekeyed = []
    for expected, row in enumerate(rows, start=1):
        fields = message(row, reference, prev)
        if row["seq"] != expected or row["prev_hash"] != prev or _legacy(fields) != row["hash"]:
            return None
        mac = keys.sign(message(row, reference, new_prev))
        rekeyed.append({"_id": row["id"], "prev_hash": new_prev, "hash": mac,
                        "key_id": keys.current})
        prev, new_prev = row["hash"], mac
    return rekeyed, prev, new_prev


def _event_message(row: Any, reference: str, prev: str) -> bytes:
    return link_message(
        prev_hash=prev, reference=reference, seq=row["seq"], event=row["event"],
        from_state=row["from_state"], to_state=row["to_state"], actor=row["actor"],
        occurred_at=row["occurred_at"], recorded_at=row["recorded_at"],
        policy_version=row["policy_version"], digest=row["payload_digest"],
    )


def _view_message(row: Any, reference: str, prev: str) -> bytes:
    return reads.link_message(
        prev_hash=prev, reference=reference, seq=row["seq"], viewer=row["viewer"],
        endpoint=row["endpoint"], viewed_at=row["viewed_at"],
    )


async def reseal(db: Database) -> Resealed | None:
    """Key a trail written before the trail was keyed, once, at the upgrade.

    Each request whose event and view chains verify under the plain SHA-256 they were written
    with is re-linked under the current key, and its rows are sealed as they stand: from now on
    an edit is found, but an edit made before this cannot be. A request whose chains do not
    verify is left unkeyed, so `verify` keeps naming it. Once any event is keyed this does
    nothing (None): it cannot be used later to vouch for rows changed since.
    """
    views = Base.metadata.tables["views"]
    async with db.engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            # Two processes starting at once: the second waits, then finds the trail keyed.
            await conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
        keyed = await conn.scalar(select(EVENTS.c.id).where(EVENTS.c.key_id.is_not(None)).limit(1))
        if keyed is not None:
            return None
        done = Resealed(0, 0, 0, 0, [])
        requests = (await conn.execute(
            select(REQUESTS.c.id, REQUESTS.c.reference, REQUESTS.c.version,
                   REQUESTS.c.last_event_hash)
            .order_by(REQUESTS.c.id)
        )).all()
        sealer = seals.Sealer(conn, db.keys)
        for rid, reference, version, head in requests:
            events = await _rekey_chain(conn, db.keys, EVENTS, rid, reference, _event_message)
            viewed = await _rekey_chain(conn, db.keys, views, rid, reference, _view_message)
            if (
                events is None or viewed is None or events[1] != head
                or len(events[0]) != version
            ):
                done.unverified.append(reference)
                continue
            for table, rekeyed in ((EVENTS, events[0]), (views, viewed[0])):
                if rekeyed:
                    await conn.execute(
                        table.update().where(table.c.id == bindparam("_id")), rekeyed
                    )
            await sealer.write(
                REQUESTS.update().where(REQUESTS.c.id == rid), {"last_event_hash": events[2]},
                unsealed=True,
            )
            rows = 1
            for table in seals.REQUEST_SEALED:
                if table is not REQUESTS:
                    found = (await conn.execute(
                        select(table).where(table.c.request_id == rid)
                    )).all()
                    sealer.seal(table, found)
                    rows += len(found)
            await sealer.flush()
            done = Resealed(done.requests + 1, done.events + len(events[0]),
                            done.views + len(viewed[0]), done.rows + rows, done.unverified)
        return done
