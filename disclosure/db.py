"""Engines and sessions: SQLite (WAL, one writer at a time) or PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from disclosure.keys import TrailKeys, trail_keys_for
from disclosure.search import names
from disclosure.settings import Settings

# aiosqlite logs every statement with its parameters at DEBUG, and parameters are names,
# addresses and decisions: that logger never goes below INFO, whatever the root level.
_driver_log = logging.getLogger("aiosqlite")
if _driver_log.level < logging.INFO:
    _driver_log.setLevel(logging.INFO)


def _prepare_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # pg_trgm's similarity(), so SQLite ranks the candidates its FTS5 index finds as
        # PostgreSQL does.
        dbapi_connection.create_function(
            "trgm_similarity", 2, names.similarity, deterministic=True
        )

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes the write lock up front, so two writers queue instead of deadlocking.
        if connection.get_execution_options().get("writer"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def create_engine(url: str) -> AsyncEngine:
    """An engine for the URL; a SQLite file's folder is created if missing. JSON columns are
    read with msgspec, which `audit verify` spends much of its time on otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, hide_parameters=True, json_deserializer=msgspec.json.decode
        )
        _prepare_sqlite(engine)
        return engine
    # hide_parameters: SQL logging (echo, errors) must never print the personal data bound in.
    # No ping on checkout: that is a round trip per call. A connection the server has closed is
    # known to the driver without one, and is replaced at checkout; one that fails on first use
    # invalidates the pool, and a reader's statement is sent once more (`_ReadSession`).
    # Forty connections, all kept: a connection opened beyond the pool's size for a burst would
    # be closed when returned, and opening one (its TLS attempt, its statements prepared anew)
    # costs more CPU than the calls it serves.
    engine = create_async_engine(
        url, pool_size=40, max_overflow=0, hide_parameters=True,
        json_deserializer=msgspec.json.decode,
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # The pool discards the connection and checks out another.
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


class _ReadSession(Session):
    """A reader's session: if its first statement finds the connection dropped, the statement
    is sent once more on a fresh one. Nothing was read yet, so nothing is repeated or lost;
    a writer's transaction is never replayed, and fails (503) instead."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._once_more(super().execute, args, kwargs)

    def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self._once_more(super().scalar, args, kwargs)

    def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self._once_more(super().scalars, args, kwargs)

    def _once_more(self, run: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        first = not self.in_transaction()
        try:
            return run(*args, **kwargs)
        except DBAPIError as exc:
            if not (first and exc.connection_invalidated):
                raise
            self.rollback()
            return run(*args, **kwargs)


class Database:
    """The engine and its session factories: readers, writers, and reports; and the trail's
    keys.

    Reports (statistics, oversight) read from `reports_url`, a read replica, when one is given;
    they tolerate the replica's lag, and casework never reads from it.
    """

    def __init__(
        self, url: str, *, reports_url: str | None = None, keys: TrailKeys | None = None
    ) -> None:
        # The keys come first: a database whose trail cannot be keyed is not opened.
        self.keys = keys or trail_keys_for(url, Settings().trail_key_file)
        self.engine = create_engine(url)
        self.dialect = self.engine.dialect.name
        self.reader = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=_ReadSession
        )
        self.writer = async_sessionmaker(
            self.engine.execution_options(writer=True), expire_on_commit=False
        )
        # A read that writes its own line on the read trail: a writer, whose first statement
        # (always a read) is sent once more if the connection was dropped, as a reader's is.
        self.logged_reader = async_sessionmaker(
            self.engine.execution_options(writer=True), expire_on_commit=False,
            sync_session_class=_ReadSession,
        )
        self.reports_engine = create_engine(reports_url) if reports_url else None
        self.reporter = async_sessionmaker(
            self.reports_engine or self.engine, expire_on_commit=False,
            sync_session_class=_ReadSession,
        )

    def read(self) -> AsyncSession:
        return self.reader()

    def write(self) -> AsyncSession:
        return self.writer()

    def read_logged(self) -> AsyncSession:
        return self.logged_reader()

    def report(self) -> AsyncSession:
        return self.reporter()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.reports_engine is not None:
            await self.reports_engine.dispose()
