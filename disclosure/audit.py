"""The tamper-evident trail: each event hashed over the one before it."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure import reads
from disclosure.models import Event, Request

GENESIS = "0" * 64


def payload_digest(payload: dict[str, Any], salt: str) -> str:
    """Digest of a payload; the random salt keeps a low-entropy payload from being guessed."""
    body = msgspec.json.encode(payload, order="sorted")
    return hashlib.sha256(bytes.fromhex(salt) + body).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def link_hash(
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
) -> str:
    """The hash of one link; it covers the payload only through its digest, so erasure is safe.

    The time an event was recorded is hashed only when it differs from the time it happened,
    so links written before the two were told apart verify as they were written.
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
    return hashlib.sha256(msgspec.json.encode(fields)).hexdigest()


class Verdict(msgspec.Struct, frozen=True):
    """The result of checking the trail: ok, or the first broken link."""

    ok: bool
    requests_checked: int
    events_checked: int
    reference: str | None = None
    seq: int | None = None
    problem: str | None = None
    views_checked: int = 0


def _check(request: Request, events: list[Event]) -> tuple[int | None, str] | None:
    prev = GENESIS
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq:
            return expected_seq, f"event {expected_seq} is missing"
        if ev.prev_hash != prev:
            return ev.seq, "does not link to the event before it"
        if ev.payload is not None:
            if ev.payload_salt is None or payload_digest(ev.payload, ev.payload_salt) != (
                ev.payload_digest
            ):
                return ev.seq, "payload does not match its digest"
        elif ev.payload_salt is not None:
            return ev.seq, "payload missing but not erased"
        recomputed = link_hash(
            prev_hash=prev,
            reference=request.reference,
            seq=ev.seq,
            event=ev.event,
            from_state=ev.from_state,
            to_state=ev.to_state,
            actor=ev.actor,
            occurred_at=ev.occurred_at,
            recorded_at=ev.recorded_at,
            policy_version=ev.policy_version,
            digest=ev.payload_digest,
        )
        if recomputed != ev.hash:
            return ev.seq, "event fields do not match its hash"
        prev = ev.hash
    if request.version != len(events):
        return len(events) + 1, f"request is at version {request.version} but has {len(events)}"\
            " events"
    if request.last_event_hash != prev:
        return None, "the request's last hash does not match its trail"
    return None


async def _requests_with_events(
    session: AsyncSession, reference: str | None
) -> AsyncIterator[tuple[Request, list[Event]]]:
    query = select(Request).order_by(Request.id)
    if reference is not None:
        query = query.where(Request.reference == reference)
    requests = await session.stream_scalars(query.execution_options(yield_per=500))
    async for batch in requests.partitions():
        ids = [r.id for r in batch]
        events = (
            await session.scalars(
                select(Event).where(Event.request_id.in_(ids)).order_by(Event.request_id, Event.seq)
            )
        ).all()
        by_request: dict[int, list[Event]] = {i: [] for i in ids}
        for ev in events:
            by_request[ev.request_id].append(ev)
        for request in batch:
            yield request, by_request[request.id]


async def verify(session: AsyncSession, *, reference: str | None = None) -> Verdict:
    """Walk every request's chain (or one request's) and report the first broken link."""
    requests = 0
    checked = 0
    async for request, events in _requests_with_events(session, reference):
        requests += 1
        broken = _check(request, events)
        if broken is not None:
            seq, problem = broken
            return Verdict(False, requests, checked, request.reference, seq, problem)
        checked += len(events)
    views, broken_view = await reads.verify(session, reference=reference)
    if broken_view is not None:
        ref, seq, problem = broken_view
        return Verdict(False, requests, checked, ref, seq, problem, views_checked=views)
    return Verdict(True, requests, checked, views_checked=views)
