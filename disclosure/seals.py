"""Row seals: a keyed MAC over every column of every casework row, written in the transaction
that writes the row, so that an edit made in SQL behind the service's back is found.

Which tables are sealed is worked out from the schema: `requests` and every table that holds a
request's rows (a `request_id` column), except the two trails, which are keyed chains of their
own; and `nominals` with every table that holds a MAPPA nominal's rows (a `nominal_id` column),
sealed under the nominal, except its read trail. A nominal's own trail (`nominal_events`) is
sealed row by row too: its rows carry the nominal's standing on each date, which its chain's
links do not cover. The MAC covers whatever columns a table has, so a column added later is
covered with no change here. A NULL column is left out of the MAC, so adding a nullable column
keeps existing seals valid; a migration that fills a sealed column for existing rows must reseal
them.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

import msgspec
from sqlalchemy import Insert, Table, Update, and_, bindparam, exists, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure.errors import TamperedRecord
from disclosure.keys import TrailKeys
from disclosure.models import Base

# Tables with a request_id that are not sealed row by row: the two trails, keyed chains of
# their own, and the seals themselves; and what finding people derives or logs beside the
# record: the search index (rebuilt from the parties by `disclosure search reindex`), the
# requests each search showed, and the requests an alert was raised on; and the board's
# decision reviews, which sample casework without being part of it; and each stage's and each
# closure's times, which the trail's own events give (`models.StageTime`, `ClosureTime`).
UNSEALED: Final = frozenset({
    "events", "views", "seals", "search_terms", "search_results", "alert_requests",
    "review_items", "stage_times", "closure_times",
    "nominal_views",
})
SEALS: Final = Base.metadata.tables["seals"]


def _owned_by(owner: str) -> tuple[Table, ...]:
    """The sealed tables of one owner, `requests` or `nominals`: the owner and its rows."""
    key = f"{owner.removesuffix('s')}_id"
    return tuple(
        t for t in Base.metadata.sorted_tables
        if t.name == owner or (key in t.c and t.name not in UNSEALED)
    )


def _sealed_tables() -> tuple[Table, ...]:
    tables = _owned_by("requests") + _owned_by("nominals")
    for t in tables:
        # Seals are keyed by (table, id): every sealed table has a single integer `id`.
        assert [c.name for c in t.primary_key.columns] == ["id"], t.name
    return tables


SEALED: Final = _sealed_tables()
SEALED_NAMES: Final = frozenset(t.name for t in SEALED)
# The tables of a nominal's rows, sealed under the nominal (`seals.nominal_id`).
NOMINAL_SEALED: Final = _owned_by("nominals")
REQUEST_SEALED: Final = tuple(t for t in SEALED if t not in NOMINAL_SEALED)
REQUESTS: Final = Base.metadata.tables["requests"]
NOMINALS: Final = Base.metadata.tables["nominals"]


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def message(
    table: str, row_id: int, columns: Sequence[str], values: Sequence[Any],
    rows: str | None = None,
) -> bytes:
    """What a row's seal is a MAC of: its table, id and every non-NULL column by name; for a
    request, also the digest of its rows' seals."""
    body = {
        name: _canonical(value)
        for name, value in zip(columns, values, strict=True)
        if value is not None
    }
    covered = [str(table), row_id, body] if rows is None else [str(table), row_id, body, rows]
    return msgspec.json.encode(covered, order="sorted")


def rows_digest(macs: str | None) -> str:
    """The digest of the seals of a request's rows (comma-separated, in any order): a row
    deleted together with its seal changes it, and the request's own seal covers it."""
    return hashlib.sha256(",".join(sorted(macs.split(",") if macs else [])).encode()).hexdigest()


def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SEALS)
    return statement.on_conflict_do_update(
        index_elements=["table_name", "row_id"],
        set_={"key_id": statement.excluded.key_id, "mac": statement.excluded.mac,
              "rows": statement.excluded.rows},
    )


_UPSERTS = {dialect: _upsert(dialect) for dialect in ("postgresql", "sqlite")}


def _row_macs(dialect: str, request_id: Any, *, besides: Any = None) -> Any:
    """The seals of a request's rows (not its own), comma-separated in one value; with
    `besides`, not those of the rows (table name, id) it names."""
    rows = SEALS.alias("request_rows")
    join = func.string_agg if dialect == "postgresql" else func.group_concat
    query = select(join(rows.c.mac, ",")).where(
        rows.c.request_id == request_id, rows.c.table_name != "requests"
    )
    if besides is not None:
        query = query.where(tuple_(rows.c.table_name, rows.c.row_id).not_in(besides))
    return query.scalar_subquery()


# The seals of a request's rows that this transaction does not seal anew.
_OTHER_ROW_MACS = {
    d: select(_row_macs(d, bindparam("rid"), besides=bindparam("resealed", expanding=True)))
    for d in ("postgresql", "sqlite")
}


# The statements a write sends are built once for each statement written through it (the
# callers' statements are themselves built once), so SQLAlchemy finds them in its compiled
# cache without working out their cache keys again on every call.


@lru_cache(maxsize=256)
def _returning(statement: Insert | Update, batch: bool) -> Any:
    """The INSERT or UPDATE, giving back every column of the rows it wrote (a batch's in the
    order of its parameters)."""
    table = statement.table
    assert isinstance(table, Table)
    if isinstance(statement, Insert):
        return statement.returning(*table.c, sort_by_parameter_order=batch)
    return statement.returning(*table.c)


@lru_cache(maxsize=256)
def _matched(table: Table, statement: Update, dialect: str) -> Any:
    """The rows an UPDATE will change, with their seals, to check before it changes them."""
    return _scoped(table, dialect, None, None).where(statement.whereclause)


class Sealer:
    """Writes casework rows on a transaction's connection and seals each row it wrote, as the
    database stored it; `flush` writes the seals, before the transaction commits. A request's
    own seal also covers the seals of all its rows, so it is sealed last, in `flush`: every
    transaction that writes a request's rows writes the request too."""

    def __init__(self, conn: AsyncConnection, keys: TrailKeys) -> None:
        self.conn = conn
        self.keys = keys
        self._pending: list[dict[str, Any]] = []
        self._requests: dict[int, Any] = {}
        # What the checks before updates read of the seals stored, so that `flush` need not read
        # them again: each checked request's rows' seals, and the seals of the rows that checked
        # updates change. Rows sealed any other way (`seal` from outside, an unchecked update)
        # may replace seals not read, and `flush` then reads them.
        self._stored: dict[int, list[str]] = {}
        self._replaced: set[str] = set()
        self._exact = True

    async def write(
        self, statement: Insert | Update, params: dict[str, Any] | list[dict[str, Any]],
        *, unsealed: bool = False,
    ) -> Sequence[Any]:
        """Run an INSERT or UPDATE of a sealed table; the rows written, every column, in the
        order of `params` for a batch.

        The rows an UPDATE matches must match their seals first (TamperedRecord if not), so a
        change made behind the service's back is never sealed over; `unsealed` skips that, for
        keying rows written before seals existed.
        """
        table = statement.table
        assert isinstance(table, Table) and table.name in SEALED_NAMES, table
        if isinstance(statement, Update):
            if unsealed:
                self._exact = False
            else:
                assert isinstance(params, dict)
                await self._check(table, statement, params)
        returning = _returning(statement, isinstance(params, list))
        rows = (await self.conn.execute(returning, params)).all()
        if table is REQUESTS:
            self._requests.update((row.id, row) for row in rows)
        else:
            self._seal(table, rows)
        return rows

    async def _check(self, table: Table, statement: Update, params: dict[str, Any]) -> None:
        names = list(table.c.keys())
        width = len(names)
        query = _matched(table, statement, self.conn.dialect.name)
        for row in await self.conn.execute(query, params):
            if (problem := _row_problem(self.keys, table, names, row)) is not None:
                raise TamperedRecord(row[width], problem)
            if table is REQUESTS:
                macs = row[width + 4]
                self._stored[row.id] = macs.split(",") if macs else []
            else:
                self._replaced.add(row[width + 2])

    def seal(self, table: Table, rows: Sequence[Any]) -> None:
        """Seal rows of a request's `table` as read, every column in the table's order."""
        self._exact = False
        self._seal(table, rows)

    def _seal(self, table: Table, rows: Sequence[Any]) -> None:
        names = table.c.keys()
        nominal = table in NOMINAL_SEALED
        for row in rows:
            self._pending.append({
                "table_name": str(table.name), "row_id": row.id,
                "request_id": None if nominal else row.request_id,
                "nominal_id": (row.id if table is NOMINALS else row.nominal_id) if nominal
                else None,
                "key_id": self.keys.current, "rows": None,
                "mac": self.keys.sign(message(table.name, row.id, names, row)),
            })

    async def flush(self) -> None:
        """Write every seal in one statement. A request's seal covers its rows' seals as they
        stand once it is written: those already stored but the ones sealed anew here, and the
        new ones."""
        names = REQUESTS.c.keys()
        sealed = list(self._pending)
        for rid, row in self._requests.items():
            anew = {(s["table_name"], s["row_id"]): s["mac"] for s in self._pending
                    if s["request_id"] == rid}
            digest = rows_digest(",".join([*await self._kept(rid, anew), *anew.values()]))
            sealed.append({
                "table_name": "requests", "row_id": rid, "request_id": rid, "nominal_id": None,
                "key_id": self.keys.current, "rows": digest,
                "mac": self.keys.sign(message("requests", rid, names, row, digest)),
            })
        if sealed:
            await self.conn.execute(_UPSERTS[self.conn.dialect.name], sealed)
        self._pending, self._requests = [], {}
        self._stored, self._replaced, self._exact = {}, set(), True

    async def _kept(self, rid: int, anew: dict[tuple[str, int], str]) -> list[str]:
        """The seals stored of a request's rows that this transaction does not seal anew: as
        the check of its row read them, less those its checked updates replace (a row
        inserted here had none), or else read now."""
        stored = self._stored.get(rid)
        if self._exact and stored is not None:
            return [mac for mac in stored if mac not in self._replaced]
        macs = await self.conn.scalar(_OTHER_ROW_MACS[self.conn.dialect.name], {
            "rid": rid, "resealed": list(anew),
        })
        return macs.split(",") if macs else []


# How many problems one verification lists before it stops looking.
LIMIT: Final = 100


class Broken(msgspec.Struct, frozen=True):
    """One thing that does not verify: in which trail (`events`, `views`, or `rows` for the
    sealed rows), where (request, event or view number) and what."""

    trail: str
    reference: str | None
    seq: int | None
    problem: str


def _scoped(table: Table, dialect: str, area: str | None, reference: str | None) -> Any:
    """The rows of `table` with their seal and request (or nominal) reference, of one area or
    request if given."""
    seal = and_(SEALS.c.table_name == table.name, SEALS.c.row_id == table.c.id)
    if table in NOMINAL_SEALED:
        query = select(table, NOMINALS.c.reference.label("_reference"))
        if table is not NOMINALS:
            query = query.join(NOMINALS, NOMINALS.c.id == table.c.nominal_id)
        query = query.add_columns(SEALS.c.key_id.label("_key_id"), SEALS.c.mac.label("_mac"))
        query = query.outerjoin(SEALS, seal).order_by(table.c.id)
        return query if area is None else query.where(NOMINALS.c.area == area)
    if table is REQUESTS:
        query = select(table, REQUESTS.c.reference.label("_reference"))
    else:
        query = select(table, REQUESTS.c.reference.label("_reference")).join(
            REQUESTS, REQUESTS.c.id == table.c.request_id
        )
    query = query.add_columns(SEALS.c.key_id.label("_key_id"), SEALS.c.mac.label("_mac"))
    if table is REQUESTS:
        query = query.add_columns(
            SEALS.c.rows.label("_rows"), _row_macs(dialect, REQUESTS.c.id).label("_row_macs")
        )
    query = query.outerjoin(SEALS, seal).order_by(table.c.id)
    if area is not None:
        query = query.where(REQUESTS.c.area == area)
    if reference is not None:
        query = query.where(REQUESTS.c.reference == reference)
    return query


# Rows a verification holds at once: its memory stays the same however long the trail.
BATCH: Final = 1000


async def batches(conn: AsyncConnection, query: Any) -> AsyncIterator[Sequence[Any]]:
    result = await conn.stream(query.execution_options(yield_per=BATCH))
    async for batch in result.partitions():
        yield batch
        # A long verify over HTTP lets other requests in between batches.
        await asyncio.sleep(0)


async def driver_batches(conn: AsyncConnection, query: Any) -> AsyncIterator[Sequence[Any]]:
    """The rows of `query` as `batches` gives them, but on PostgreSQL straight from asyncpg's
    server-side cursor, with none of SQLAlchemy's work per row: only for columns the driver
    already gives as the service reads them (numbers, text, and timestamps, which asyncpg gives
    in UTC), never for a JSON column (select it cast to text)."""
    if conn.dialect.name != "postgresql":
        async for batch in batches(conn, query):
            yield batch
        return
    compiled = query.compile(dialect=conn.dialect)
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    async with driver.transaction():
        cursor = await driver.cursor(compiled.string, *params)
        while batch := await cursor.fetch(BATCH):
            yield batch
            await asyncio.sleep(0)


def _row_problem(keys: TrailKeys, table: Table, names: list[str], row: Any) -> str | None:
    width = len(names)
    values = row[:width]
    key_id, mac = row[width + 1], row[width + 2]
    where = f"{table.name} row {values[0]}"
    if mac is None:
        return f"{where} has no seal"
    digest = None
    if table is REQUESTS:
        digest = rows_digest(row[width + 4])
        if digest != row[width + 3]:
            return f"{where}: a row of this request was deleted together with its seal"
    expected = keys.mac(key_id, message(table.name, values[0], names, values, digest))
    if expected is None:
        return f"{where} is sealed with key {key_id}, which the trail key file does not hold"
    if expected != mac:
        return f"{where} does not match its seal"
    return None


async def verify(
    conn: AsyncConnection, keys: TrailKeys, found: list[Broken], *, area: str | None = None,
    reference: str | None = None,
) -> int:
    """Check every sealed row (of one area or request, if given), adding to `found` each row
    whose content does not match its seal or that has none, and (checking everything) each
    seal whose row is gone; the number of rows checked."""
    checked = 0
    # A nominal is no request's: checking one request leaves the nominals out.
    for table in SEALED if reference is None else REQUEST_SEALED:
        names = list(table.c.keys())
        async for batch in batches(conn, _scoped(table, conn.dialect.name, area, reference)):
            for row in batch:
                checked += 1
                if (problem := _row_problem(keys, table, names, row)) is not None:
                    found.append(Broken("rows", row[len(names)], None, problem))
                    if len(found) >= LIMIT:
                        return checked
        if area is None and reference is None:
            # A seal whose row is gone: the row was deleted behind the service's back.
            orphans = await conn.scalars(
                select(SEALS.c.row_id)
                .where(SEALS.c.table_name == table.name)
                .where(~exists().where(table.c.id == SEALS.c.row_id))
                .order_by(SEALS.c.row_id)
                .limit(LIMIT)
            )
            found.extend(
                Broken("rows", None, None, f"{table.name} row {o} was deleted") for o in orphans
            )
            if len(found) >= LIMIT:
                return checked
    return checked
