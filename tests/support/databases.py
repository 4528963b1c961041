"""Fresh databases for the store tests, on SQLite and on PostgreSQL, behind one small interface."""

import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from controller.store import database_url


class Databases(Protocol):
    """Hands out a new database per test: empty, or a copy of the migrated template."""

    backend: str

    def fresh(self, *, migrated: bool) -> AbstractAsyncContextManager[str]: ...


@dataclass
class SqliteDatabases:
    """Copies the migrated template file into the test's own directory."""

    template: Path
    directory: Path
    backend: str = "sqlite"

    @asynccontextmanager
    async def fresh(self, *, migrated: bool) -> AsyncIterator[str]:
        path = self.directory / f"store-{uuid.uuid4().hex[:8]}.sqlite"
        if migrated:
            shutil.copyfile(self.template, path)
        yield database_url(None, str(path))


@dataclass
class PostgresDatabases:
    """Creates a uniquely named database (from the migrated template when asked) and drops it after."""

    server_url: str
    admin: AsyncEngine
    template: str
    backend: str = "postgresql"

    @asynccontextmanager
    async def fresh(self, *, migrated: bool) -> AsyncIterator[str]:
        name = f"ai_implement_test_{uuid.uuid4().hex[:12]}"
        await self.create(name, template=self.template if migrated else None)
        try:
            yield database_on(self.server_url, name)
        finally:
            await self.drop(name)

    async def create(self, name: str, *, template: str | None = None) -> None:
        from_template = f' TEMPLATE "{template}"' if template else ""
        async with self.admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"{from_template}'))

    async def drop(self, name: str) -> None:
        async with self.admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def database_on(server_url: str, name: str) -> str:
    """The URL of another database on the same server."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)
