"""Signed checkpoints of the whole trail, for operators to keep outside the database.

A checkpoint is a Merkle tree head (RFC 9162: leaf hashes SHA-256(0x00 || leaf), node hashes
SHA-256(0x01 || left || right)) over every event, and another over every view, each in the
order the rows were written (their ids), with the counts and the time, signed with Ed25519.
After the signed head, the file lists each request's last event and last view at that moment.
Verifying against it recomputes both tree heads over today's rows up to the checkpoint: if
either differs, something the checkpoint saw is gone or changed, and the list of heads names
which request and which event or view.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Table, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import keys, seals
from disclosure.db import Database
from disclosure.models import Base

FORMAT: Final = "disclosure-checkpoint/1"
REQUESTS = Base.metadata.tables["requests"]
# The two trails a checkpoint covers, each a tree of its own.
TRAILS: Final[dict[str, Table]] = {
    "events": Base.metadata.tables["events"], "views": Base.metadata.tables["views"],
}


class TreeHead(msgspec.Struct, frozen=True):
    size: int
    last_id: int
    root: str


class Head(msgspec.Struct, frozen=True):
    format: str
    taken_at: datetime
    key_id: str
    events: TreeHead
    views: TreeHead
    heads_digest: str


class Signed(msgspec.Struct, frozen=True):
    head: Head
    signature: str


class MerkleTree:
    """The RFC 9162 tree head of leaves added one at a time, in O(log n) memory."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []

    def add(self, leaf: bytes) -> None:
        self.size += 1
        node = (1, hashlib.sha256(b"\x00" + leaf).digest())
        while self._stack and self._stack[-1][0] == node[0]:
            left = self._stack.pop()
            node = (left[0] * 2, hashlib.sha256(b"\x01" + left[1] + node[1]).digest())
        self._stack.append(node)

    def root(self) -> str:
        if not self._stack:
            return hashlib.sha256(b"").hexdigest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node.hex()


def _leaf(reference: str, seq: int, mac: str) -> bytes:
    return msgspec.json.encode([reference, seq, mac])


def _signed_bytes(head: Head) -> bytes:
    return msgspec.json.encode(head, order="sorted")


async def _cutoff(conn: AsyncConnection) -> dict[str, int]:
    """The last id of each trail such that no row with a smaller id is still uncommitted."""
    async with conn.begin():
        if conn.dialect.name == "postgresql":
            # Waits for the writers in flight to commit and holds new ones back for the moment
            # it takes to read two maxima: ids are taken while inserting, so after this no
            # smaller id can appear.
            await conn.execute(text("LOCK TABLE events, views IN SHARE MODE"))
        return {
            name: await conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0
            for name, table in TRAILS.items()
        }


def _trail_query(table: Table, last_id: int) -> Any:
    return (
        select(REQUESTS.c.reference, table.c.seq, table.c.hash)
        .join(REQUESTS, REQUESTS.c.id == table.c.request_id)
        .where(table.c.id <= last_id)
        .order_by(table.c.id)
    )


async def _tree(conn: AsyncConnection, table: Table, last_id: int) -> TreeHead:
    tree = MerkleTree()
    async for batch in seals.batches(conn, _trail_query(table, last_id)):
        for reference, seq, mac in batch:
            tree.add(_leaf(reference, seq, mac))
    return TreeHead(size=tree.size, last_id=last_id, root=tree.root())


def _heads_query(table: Table, last_id: int) -> Any:
    """Each request's last row of a trail among the rows up to `last_id`."""
    inner = table.alias("later")
    last = (
        select(func.max(inner.c.seq))
        .where(inner.c.request_id == table.c.request_id, inner.c.id <= last_id)
        .scalar_subquery()
    )
    return (
        select(REQUESTS.c.reference, table.c.seq, table.c.hash)
        .join(REQUESTS, REQUESTS.c.id == table.c.request_id)
        .where(table.c.id <= last_id, table.c.seq == last)
        .order_by(REQUESTS.c.id)
    )


async def take(db: Database, signing_key: Ed25519PrivateKey, folder: Path) -> Path:
    """Write a signed checkpoint of the whole trail into `folder`; the file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    taken_at = datetime.now(UTC)
    digest = hashlib.sha256()
    body = folder / f".checkpoint-{taken_at:%Y%m%dT%H%M%S%fZ}.partial"
    async with db.engine.connect() as conn:
        cutoff = await _cutoff(conn)
        trees = {name: await _tree(conn, table, cutoff[name]) for name, table in TRAILS.items()}
        with body.open("wb") as out:
            for name, table in TRAILS.items():
                async for batch in seals.batches(conn, _heads_query(table, cutoff[name])):
                    for reference, seq, mac in batch:
                        line = msgspec.json.encode([name, reference, seq, mac]) + b"\n"
                        digest.update(line)
                        out.write(line)
    public = signing_key.public_key()
    head = Head(
        format=FORMAT, taken_at=taken_at, key_id=keys.key_id(public), events=trees["events"],
        views=trees["views"], heads_digest=digest.hexdigest(),
    )
    signed = Signed(head, base64.b64encode(signing_key.sign(_signed_bytes(head))).decode())
    path = folder / f"checkpoint-{taken_at:%Y%m%dT%H%M%SZ}-{head.events.size}.jsonl"
    with path.open("xb") as out:
        out.write(msgspec.json.encode(signed) + b"\n")
        with body.open("rb") as lines:
            for line in lines:
                out.write(line)
    body.unlink()
    return path


@dataclass(frozen=True)
class Finding:
    """One checkpoint's result: what it covered and what no longer matches it."""

    path: Path
    head: Head | None
    problems: Sequence[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _heads(path: Path) -> Iterator[tuple[str, str, int, str]]:
    with path.open("rb") as lines:
        next(lines)
        for line in lines:
            name, reference, seq, mac = msgspec.json.decode(line)
            yield name, reference, seq, mac


def _read(path: Path, public: Ed25519PublicKey) -> tuple[Head | None, str | None]:
    """The checkpoint's head if its signature and its list of heads check, else why not."""
    try:
        with path.open("rb") as lines:
            signed = msgspec.json.decode(next(lines), type=Signed)
            digest = hashlib.sha256()
            for line in lines:
                digest.update(line)
    except (OSError, StopIteration, msgspec.ValidationError, msgspec.DecodeError):
        return None, "is not a checkpoint file"
    try:
        public.verify(base64.b64decode(signed.signature), _signed_bytes(signed.head))
    except (InvalidSignature, ValueError):
        return None, (
            f"its signature does not verify with key {keys.key_id(public)}"
            " (altered, or signed with another key)"
        )
    if digest.hexdigest() != signed.head.heads_digest:
        return signed.head, "its list of request heads was altered after signing"
    return signed.head, None


async def _explain(conn: AsyncConnection, path: Path, trail: str) -> list[str]:
    """Name each request whose last row at the checkpoint is now gone or changed."""
    table = TRAILS[trail]
    noun = "event" if trail == "events" else "view"
    problems: list[str] = []
    batch: list[tuple[str, int, str]] = []

    async def check(batch: list[tuple[str, int, str]]) -> None:
        wanted = [(reference, seq) for reference, seq, _ in batch]
        found = dict(
            ((reference, seq), mac)
            for reference, seq, mac in await conn.execute(
                select(REQUESTS.c.reference, table.c.seq, table.c.hash)
                .join(REQUESTS, REQUESTS.c.id == table.c.request_id)
                .where(tuple_(REQUESTS.c.reference, table.c.seq).in_(wanted))
            )
        )
        present = set(await conn.scalars(
            select(REQUESTS.c.reference).where(REQUESTS.c.reference.in_([r for r, _ in wanted]))
        ))
        lasts = dict(
            (reference, last)
            for reference, last in await conn.execute(
                select(REQUESTS.c.reference, func.max(table.c.seq))
                .join(REQUESTS, REQUESTS.c.id == table.c.request_id)
                .where(REQUESTS.c.reference.in_([r for r, _ in wanted]))
                .group_by(REQUESTS.c.reference)
            )
        )
        for reference, seq, mac in batch:
            if reference not in present:
                problems.append(
                    f"{reference} was deleted: it had {seq} {noun}s at the checkpoint"
                )
            elif (reference, seq) not in found:
                now = lasts.get(reference, 0)
                problems.append(
                    f"{reference}: {noun} {seq} is gone: it had {seq} {noun}s at the checkpoint"
                    f" and has {now} now"
                )
            elif found[(reference, seq)] != mac:
                problems.append(f"{reference}: {noun} {seq} differs from the checkpoint")

    for name, reference, seq, mac in _heads(path):
        if name != trail:
            continue
        batch.append((reference, seq, mac))
        if len(batch) == 500:
            await check(batch)
            batch = []
    if batch:
        await check(batch)
    return problems


async def verify(db: Database, folder: Path, public: Ed25519PublicKey) -> list[Finding]:
    """Check that today's trail extends every checkpoint in `folder`, oldest first."""
    findings = []
    async with db.engine.connect() as conn:
        for path in sorted(folder.glob("checkpoint-*.jsonl")):
            head, unreadable = _read(path, public)
            if head is None or unreadable is not None:
                findings.append(Finding(path, head, [f"{path.name} {unreadable}"]))
                continue
            problems: list[str] = []
            for trail in ("events", "views"):
                then: TreeHead = getattr(head, trail)
                now = await _tree(conn, TRAILS[trail], then.last_id)
                if now == then:
                    continue
                named = await _explain(conn, path, trail)
                problems.extend(named or [
                    f"the {trail} up to the checkpoint differ from it ({then.size} then,"
                    f" {now.size} now)"
                ])
            findings.append(Finding(path, head, problems))
    return findings
