"""Backups that prove themselves: an online copy of the database, and a restore into an empty one.

The embedded SQLite database is copied with SQLite's online backup API while the service keeps
running; PostgreSQL is dumped with `pg_dump` (custom format) and restored with `pg_restore`,
which must be at least the server's major version. The command line ends every restore with
the audit trail's verification, so a restored database shows it is complete and untouched.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy import URL, inspect, select, table
from sqlalchemy.engine import Connection, make_url

from disclosure.db import create_engine


class BackupError(Exception):
    """A backup or restore that could not be done, said for an operator."""


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL as pg_dump and pg_restore take it, and an environment carrying the password
    (so that it never appears in the process list)."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()}")


@contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A temporary file beside `target` that takes its place only when complete."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        yield partial
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def backup(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database at `database_url` to `target`."""
    url = make_url(database_url)
    with _replacing(target) as partial:
        if url.get_backend_name() == "sqlite":
            source = _sqlite_file(url)
            if not source.exists():
                raise BackupError(f"{source} does not exist")
            with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as live, \
                    closing(sqlite3.connect(partial)) as copy:
                # Page by page, while writers carry on; the copy is one consistent moment.
                live.backup(copy)
                if copy.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                    raise BackupError("the copy failed SQLite's integrity check")
        else:
            dsn, env = _libpq(url)
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  f"--file={partial}", f"--dbname={dsn}"], env)


def _holds_rows(conn: Connection) -> bool:
    for name in inspect(conn).get_table_names():
        if name != "alembic_version" and conn.execute(select(1).select_from(table(name))
                                                      .limit(1)).first():
            return True
    return False


async def is_empty(database_url: str) -> bool:
    """Whether the database holds no rows (a schema with no data counts as empty)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return not await conn.run_sync(_holds_rows)
    finally:
        await engine.dispose()


def restore(database_url: str, source: Path) -> None:
    """Replace the database at `database_url` with the backup in `source`."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        target = _sqlite_file(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as saved:
            try:
                intact = saved.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{source} is not a SQLite backup") from exc
            if not intact:
                raise BackupError(f"{source} failed SQLite's integrity check")
            with closing(sqlite3.connect(target)) as live:
                saved.backup(live)
        return
    dsn, env = _libpq(url)
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", f"--dbname={dsn}", str(source)], env)
