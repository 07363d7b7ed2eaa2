"""A nominal's trail: one hash chain, as a request's is, of its registration, every change of
category, level, location or risk of serious harm, and every event of its meetings.

Each link's row also carries how the nominal stood once it took effect (`occurred_at`). The
board's snapshot on a date counts, for each nominal, its latest standing event (`STANDING_EVENTS`)
that took effect by then; the year's changes are the `change_level` and `change_category` events
that took effect within it (docs/mapp.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import audit, seals
from disclosure.errors import NotFound, StaleVersion
from disclosure.mapp.schemas import STANDING_EVENTS
from disclosure.models import Base, Nominal, NominalEvent


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


NOMINALS = _table(Nominal)
NOMINAL_EVENTS = _table(NominalEvent)
STANDING = ("category", "level", "location", "rosh")
# The nominal's standing on a date: its latest change that took effect by then.
_STANDING_AT = (
    select(*(NOMINAL_EVENTS.c[name] for name in STANDING))
    .where(NOMINAL_EVENTS.c.event.in_(tuple(STANDING_EVENTS)))
    .order_by(NOMINAL_EVENTS.c.occurred_at.desc(), NOMINAL_EVENTS.c.seq.desc())
    .limit(1)
)
LAST_CHANGE = select(NOMINAL_EVENTS.c.occurred_at).where(
    NOMINAL_EVENTS.c.event.in_(tuple(STANDING_EVENTS))
).order_by(NOMINAL_EVENTS.c.seq.desc()).limit(1)


def standings(at: datetime) -> Select[Any]:
    """Every nominal's standing at `at`, of those registered by then, in one set-based query:
    the board's snapshot (31 March) is `standings(the end of 31 March)` grouped as it needs.
    Columns: nominal_id, area, category, level, location, rosh."""
    latest = func.row_number().over(
        partition_by=NOMINAL_EVENTS.c.nominal_id,
        order_by=(NOMINAL_EVENTS.c.occurred_at.desc(), NOMINAL_EVENTS.c.seq.desc()),
    )
    ranked = (
        select(NOMINAL_EVENTS.c.nominal_id, *(NOMINAL_EVENTS.c[name] for name in STANDING),
               latest.label("latest"))
        .where(NOMINAL_EVENTS.c.event.in_(tuple(STANDING_EVENTS)),
               NOMINAL_EVENTS.c.occurred_at <= at)
        .subquery()
    )
    return (
        select(ranked.c.nominal_id, NOMINALS.c.area, *(ranked.c[name] for name in STANDING))
        .join(NOMINALS, NOMINALS.c.id == ranked.c.nominal_id)
        .where(ranked.c.latest == 1)
    )


async def lock(conn: AsyncConnection, nominal_id: int, area: str | None) -> Row[Any]:
    """The nominal's row, locked until the transaction ends; another area's is not found."""
    row = (await conn.execute(
        select(NOMINALS).where(NOMINALS.c.id == nominal_id).with_for_update()
    )).first()
    if row is None or (area is not None and row.area != area):
        raise NotFound(str(nominal_id), "nominal")
    return row


async def standing_at(conn: AsyncConnection, nominal_id: int, at: datetime) -> Row[Any] | None:
    """How the nominal stood at `at`: None before they were registered."""
    return (await conn.execute(_STANDING_AT.where(
        NOMINAL_EVENTS.c.nominal_id == nominal_id, NOMINAL_EVENTS.c.occurred_at <= at,
    ))).first()


async def append(
    sealer: seals.Sealer,
    nominal: Row[Any],
    *,
    event: str,
    at: datetime,
    now: datetime,
    actor: str,
    payload: dict[str, Any],
    policy_version: str,
    standing: dict[str, Any] | None = None,
    meeting_id: int | None = None,
    from_state: str | None = None,
    to_state: str = "managed",
) -> int:
    """Add one link to the nominal's trail and move its row on (its standing, if `standing`
    changes it); the nominal's new version."""
    stood = {name: getattr(nominal, name) for name in STANDING} | (standing or {})
    seq: int = nominal.version + 1
    link = audit.next_link(
        sealer.keys, reference=nominal.reference, seq=seq, prev_hash=nominal.last_event_hash,
        policy_version=policy_version, event=event, from_state=from_state, to_state=to_state,
        actor=actor, at=at, recorded_at=now, payload=payload,
    )
    await sealer.write(insert(NOMINAL_EVENTS), link | stood | {
        "nominal_id": nominal.id, "meeting_id": meeting_id,
    })
    bumped = await sealer.write(
        update(NOMINALS).where(NOMINALS.c.id == nominal.id, NOMINALS.c.version == nominal.version),
        (standing or {}) | {"version": seq, "last_event_hash": link["hash"], "updated_at": now},
    )
    if len(bumped) != 1:
        raise StaleVersion(f"nominal {nominal.id}", nominal.version, nominal.version + 1)
    return seq
