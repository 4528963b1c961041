"""Alembic's entry point for the store's migrations.

`upgrade_database` hands over a connection it has already locked; a developer generating a new
revision with `alembic.command.revision(alembic_config(url), ..., autogenerate=True)` gets a
connection opened here from the configured URL.
"""

import asyncio
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from controller.store.engine import create_store_engine
from controller.store.tables import Base
from controller.store.timestamps import UtcDateTime


def render_item(kind: str, item: object, _context: AutogenContext) -> str | Literal[False]:
    """Write our timestamp type as the plain SQLAlchemy type, so that revisions import nothing of ours."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_on_own_connection(url: str) -> None:
    engine = create_store_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("the store's migrations run against a database; offline (--sql) mode is not supported")
    shared_connection = context.config.attributes.get("connection")
    if isinstance(shared_connection, Connection):
        run_migrations(shared_connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database to migrate: build the Alembic config with alembic_config(url)")
    asyncio.run(run_migrations_on_own_connection(url))


main()
