"""Async engines for the store, tuned so that the operator and the api can share one SQLite file."""

from pathlib import Path
from typing import Final

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from controller.store.urls import SQLITE_DRIVER, normalise_database_url

SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
"""How long a SQLite writer waits for the other process's write to finish before failing."""

SQLITE_PRAGMAS: Final = (
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)
"""WAL lets readers proceed during a write; NORMAL sync is durable enough in WAL and much faster."""


def create_store_engine(url: str) -> AsyncEngine:
    """Open an engine on a SQLite file or a PostgreSQL server, creating the SQLite directory if needed."""
    normalised = normalise_database_url(url)
    parsed = make_url(normalised)
    if parsed.drivername != SQLITE_DRIVER:
        return create_async_engine(normalised, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(normalised)
    event.listen(engine.sync_engine, "connect", _apply_sqlite_pragmas)
    return engine


def _apply_sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()
