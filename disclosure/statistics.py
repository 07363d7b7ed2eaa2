"""Counts of requests by area, scheme, route, state and outcome, kept as requests change.

The workflow calls `count` in the transaction of every receipt and every event, so the counts
always equal a count of the requests themselves, and `/api/stats` reads a few rows instead of
scanning the table.
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from disclosure.models import (
    Alert,
    Closure,
    Decision,
    DecisionRecipient,
    Request,
    RequestCount,
)


def _table() -> Table:
    table = RequestCount.__table__
    assert isinstance(table, Table)
    return table


_COUNTS = _table()
# Stored for a request with no outcome: a key column cannot be null.
NO_OUTCOME = ""
_KEY = ("area", "scheme", "route", "state", "outcome")
_BY_KEY = operator.itemgetter(*_KEY)


class Standing(NamedTuple):
    """Where a request stands, as the counts group it."""

    area: str
    scheme: str
    route: str
    state: str
    outcome: str | None


class Count(msgspec.Struct, kw_only=True):
    scheme: str
    route: str
    state: str
    outcome: str | None
    requests: int


class ReopenedCount(msgspec.Struct, kw_only=True):
    """Closures later reopened: the outcome each had reached, and why it was reopened."""

    scheme: str
    route: str
    outcome: str | None
    reopen_category: str | None
    closures: int


class AlertCount(msgspec.Struct, kw_only=True):
    """Repeat-subject alerts by state and by how their review ended: codes, never names."""

    kind: str
    state: str
    review: str | None
    alerts: int


class Statistics(msgspec.Struct, kw_only=True):
    area: str
    total: int
    counts: list[Count]
    reopened: list[ReopenedCount]
    # Disclosures delivered, one per recipient: by the forum's decision and urgent ones.
    disclosures_delivered: int
    urgent_disclosures_delivered: int
    alerts: list[AlertCount]


def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_COUNTS).values(
        {name: bindparam(name) for name in (*_KEY, "requests")}
    )
    return statement.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={"requests": _COUNTS.c.requests + statement.excluded.requests},
    )


# Built once per dialect, so each is compiled once.
_UPSERTS = {name: _upsert(name) for name in ("postgresql", "sqlite")}


def moves(was: Standing | None, now: Standing) -> list[dict[str, Any]]:
    """The count rows a request's move changes, each with the change, in key order."""
    if was == now:
        return []
    changes = [(now, 1)] + ([(was, -1)] if was is not None else [])
    rows = [
        dict(zip(_KEY, (*s[:4], s.outcome or NO_OUTCOME), strict=True)) | {"requests": delta}
        for s, delta in changes
    ]
    # Rows are locked in key order, so two requests moving between the same pair of counts
    # in opposite directions wait for each other rather than deadlock.
    rows.sort(key=_BY_KEY)
    return rows


async def add(conn: AsyncConnection, dialect: str, rows: list[dict[str, Any]]) -> None:
    """Add each row's change to its count (rows in key order)."""
    if rows:
        await conn.execute(_UPSERTS[dialect], rows)


async def count(
    conn: AsyncConnection, dialect: str, *, was: Standing | None, now: Standing
) -> None:
    """Move a request's count from where it stood (None: it is new) to where it stands now."""
    await add(conn, dialect, moves(was, now))


async def read(session: AsyncSession, *, area: str) -> Statistics:
    """An area's requests counted by scheme, route, state and outcome, and its alerts."""
    c = _COUNTS.c
    rows = await session.execute(
        select(c.scheme, c.route, c.state, c.outcome, c.requests)
        .where(c.area == area, c.requests > 0)
        .order_by(c.scheme, c.route, c.state, c.outcome)
    )
    counts = [
        Count(scheme=s, route=r, state=st, outcome=o or None, requests=n)
        for s, r, st, o, n in rows
    ]
    delivered = dict((await session.execute(
        select(Decision.urgent, func.count())
        .join(DecisionRecipient, DecisionRecipient.decision_id == Decision.id)
        .join(Request, Request.id == Decision.request_id)
        .where(Request.area == area, DecisionRecipient.settlement == "delivered")
        .group_by(Decision.urgent)
    )).all())
    keys = (Request.scheme, Request.route, Closure.outcome, Closure.reopen_category)
    reopened = await session.execute(
        select(*keys, func.count())
        .join(Request, Request.id == Closure.request_id)
        .where(Request.area == area, Closure.reopened_at.is_not(None))
        .group_by(*keys)
        .order_by(*keys)
    )
    alerts = await session.execute(
        select(Alert.kind, Alert.state, Alert.review, func.count())
        .where(Alert.area == area)
        .group_by(Alert.kind, Alert.state, Alert.review)
        .order_by(Alert.kind, Alert.state, Alert.review)
    )
    return Statistics(
        area=area, total=sum(c.requests for c in counts), counts=counts,
        disclosures_delivered=delivered.get(False, 0),
        urgent_disclosures_delivered=delivered.get(True, 0),
        reopened=[
            ReopenedCount(scheme=s, route=r, outcome=o, reopen_category=c, closures=n)
            for s, r, o, c, n in reopened
        ],
        alerts=[AlertCount(kind=k, state=st, review=rv, alerts=n) for k, st, rv, n in alerts],
    )
