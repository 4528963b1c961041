"""Bring a database to the newest schema with the Alembic migrations shipped inside this package.

Both processes (and every replica) call `upgrade_database` at start, so concurrent upgrades must be
harmless: PostgreSQL serialises them with an advisory lock held for the upgrade's transaction, SQLite
with the write lock of an immediate transaction. The loser then finds the schema current and does
nothing.
"""

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.store.engine import create_store_engine
from controller.store.urls import normalise_database_url

MIGRATIONS_DIRECTORY: Final = Path(__file__).with_name("migrations")

MIGRATION_LOCK_KEY: Final = int.from_bytes(b"AI-Impl", "big")
"""The PostgreSQL advisory lock every upgrading process waits for: "AI-Impl" read as a number."""


def alembic_config(url: str) -> Config:
    """An Alembic configuration built in code, so that no alembic.ini has to ship or be found."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    config.set_main_option("sqlalchemy.url", normalise_database_url(url).replace("%", "%%"))
    return config


async def upgrade_database(url: str) -> None:
    """Apply every migration the database lacks; safe to run twice, and from two processes at once."""
    config = alembic_config(url)
    engine = create_store_engine(url)
    try:
        async with engine.begin() as connection:
            await _wait_for_other_upgrades(connection)
            await connection.run_sync(_upgrade_to_head, config)
    finally:
        await engine.dispose()


async def _wait_for_other_upgrades(connection: AsyncConnection) -> None:
    """Take a lock that the transaction's end releases, and that a concurrent upgrade waits for."""
    if connection.dialect.name == "postgresql":
        await connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
    else:
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade_to_head(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def head_revision() -> str:
    """The newest migration's revision id: what every upgraded database reports."""
    head = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://")).get_current_head()
    assert head is not None, "the store has migrations"
    return head
