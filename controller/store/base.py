"""What every part of the store shares: the engine, one transaction per operation, dialect upserts."""

from contextlib import AbstractAsyncContextManager

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import UpdateBase

from controller.store.tables import Base


class StoreBase:
    """Holds the engine; each operation of the store runs in a transaction of its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"the store runs on sqlite or postgresql, not {engine.dialect.name}")
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def _transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """Commit when the block ends normally, roll back when it raises."""
        return self._sessions.begin()

    def _insert(self, table: type[Base]) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that can say ON CONFLICT, which the portable `insert` cannot."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def _serialise(self, session: AsyncSession, name: str) -> None:
        """Hold a lock named `name` until the transaction ends (PostgreSQL); SQLite serialises writers itself."""
        if self.engine.dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})

    @staticmethod
    async def _rows_affected(session: AsyncSession, statement: UpdateBase) -> int:
        """Run a write on the session's connection, whose result carries the driver's row count."""
        connection = await session.connection()
        result = await connection.execute(statement)
        return result.rowcount
