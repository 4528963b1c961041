"""A consistent copy of the SQLite store while both processes keep writing to it.

Copying the file itself is not a backup: in WAL mode the latest writes are in `-wal` beside it, and
a copy taken mid-write is torn. SQLite's online backup API copies a consistent snapshot instead.
PostgreSQL has its own tools (pg_dump), which docs/deployment.md names.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from controller.store.urls import SQLITE_DRIVER, redact_database_url


class BackupError(RuntimeError):
    """The backup could not be made; the message says why and what to do instead."""


def sqlite_path_of(url: str) -> Path:
    """The file of a SQLite store URL; a PostgreSQL store is refused with what to use instead."""
    parsed = make_url(url)
    if parsed.drivername != SQLITE_DRIVER or not parsed.database:
        raise BackupError(
            f"the store at {redact_database_url(url)} is not SQLite: back up PostgreSQL with pg_dump "
            "(docs/deployment.md, 'Backing up the store')"
        )
    return Path(parsed.database)


def back_up_sqlite(source: Path, destination: Path) -> int:
    """Copy the store at `source` to a new file `destination`; returns its size in bytes."""
    if not source.is_file():
        raise BackupError(f"there is no store at {source}: check DEDUP_DB_PATH")
    if destination.exists():
        raise BackupError(f"{destination} exists already: choose a new file, a backup never overwrites one")
    if not destination.parent.is_dir():
        raise BackupError(f"the directory {destination.parent} does not exist")
    with sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True) as reading, sqlite3.connect(destination) as writing:
        reading.backup(writing)
    return destination.stat().st_size
