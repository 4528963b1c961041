"""What every part of the store shares: the engine, one transaction per operation, dialect upserts."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, exists, func, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.dml import UpdateBase

from controller.store.tables import Base

RowT = TypeVar("RowT", bound=Base)


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[RowT]):
    """Rows of one page in the listing's order, whether the listing goes on past either end, and its size."""

    rows: list[RowT]
    more_before: bool
    more_after: bool
    total: int


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

    async def _keyset_page(
        self,
        table: type[RowT],
        order: Sequence[ColumnElement[Any] | QueryableAttribute[Any]],
        *,
        where: Sequence[ColumnElement[bool]] = (),
        after: tuple[Any, ...] | None = None,
        before: tuple[Any, ...] | None = None,
        limit: int,
    ) -> KeysetPage[RowT]:
        """The `limit` rows after `after` (or before `before`, or the first ones) in `order`, of those `where` selects.

        Keyset paging: the query starts at a row's sort key (its values of `order`, which must be
        unique) rather than skipping an offset, so a page reads the page, and a row that comes or goes
        moves no other row to another page.
        """
        if after is not None and before is not None:
            raise ValueError("a page starts after one item or ends before one, not both")
        forward = before is None
        edge = after if forward else before
        place = tuple_(*order)
        query = select(table).where(*where).limit(limit + 1)
        query = query.order_by(*(order if forward else [column.desc() for column in order]))
        if edge is not None:
            query = query.where(place > tuple_(*edge) if forward else place < tuple_(*edge))
        async with self._transaction() as session:
            rows = list(await session.scalars(query))
            ahead = len(rows) > limit  # more rows in the direction read
            behind = False  # rows on the other side of the edge: before a page read forward, after one read back
            if edge is not None:
                other_side = place <= tuple_(*edge) if forward else place >= tuple_(*edge)
                behind = bool(await session.scalar(select(exists().where(*where, other_side))))
            total = await session.scalar(select(func.count()).select_from(table).where(*where)) or 0
        page = rows[:limit]
        if forward:
            return KeysetPage(rows=page, more_before=behind, more_after=ahead, total=total)
        return KeysetPage(rows=page[::-1], more_before=ahead, more_after=behind, total=total)
