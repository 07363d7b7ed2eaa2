"""Connections the server dropped: found without a ping, replaced, and a read sent once more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from disclosure.db import Database

pytestmark = pytest.mark.postgres

BACKEND = text("SELECT pg_backend_pid()")


@pytest.fixture
async def db(postgres_database: str) -> AsyncIterator[Database]:
    found = Database(postgres_database)
    yield found
    await found.dispose()


def drop(url: str, pid: int) -> None:
    """The server ends a connection, as on a restart; this blocks, so the event loop does not
    run and the driver has not yet seen the connection close."""
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT pg_terminate_backend({pid})")).scalar_one()
    engine.dispose()


async def pooled(db: Database) -> int:
    async with db.read() as session:
        pid = await session.scalar(BACKEND)
    assert isinstance(pid, int)
    return pid


async def test_a_read_on_a_connection_dropped_unseen_is_sent_again(
    db: Database, postgres_database: str
) -> None:
    pid = await pooled(db)
    drop(postgres_database, pid)
    async with db.read() as session:
        again = await session.scalar(BACKEND)
    assert again is not None and again != pid


async def test_a_write_on_a_connection_dropped_unseen_fails_and_the_next_succeeds(
    db: Database, postgres_database: str
) -> None:
    pid = await pooled(db)
    drop(postgres_database, pid)
    with pytest.raises(DBAPIError) as failed:
        async with db.write() as session, session.begin():
            await session.scalar(BACKEND)
    assert failed.value.connection_invalidated
    async with db.write() as session, session.begin():
        assert await session.scalar(BACKEND) != pid


async def test_a_connection_the_driver_saw_closed_is_replaced_at_checkout(
    db: Database, postgres_database: str
) -> None:
    pid = await pooled(db)
    drop(postgres_database, pid)
    # Once the event loop has run, the driver knows: even a writer gets a live connection.
    for _ in range(50):
        await asyncio.sleep(0.01)
    async with db.write() as session, session.begin():
        assert await session.scalar(BACKEND) != pid
