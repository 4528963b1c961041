"""The dedup window: a ticket dispatched less than a window ago is not dispatched again.

A ticket dispatched exactly one window ago is outside it. Rows older than the window only matter
until `purge_dedup` removes them; every query ignores them already.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, exists, select

from controller.store.base import StoreBase
from controller.store.records import DedupEntry
from controller.store.tables import DedupEntryRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import TicketingProvider

DEDUP_WINDOW: Final = timedelta(hours=24)


class DedupWindow(StoreBase):
    """Record dispatched tickets and answer whether one was dispatched recently."""

    async def record_dedup(
        self,
        issue_id: str,
        *,
        identifier: str,
        title: str,
        team_key: str,
        provider: TicketingProvider,
        now: datetime,
    ) -> None:
        """Open (or reopen) the window of a ticket that is being dispatched now."""
        fields = {
            "identifier": identifier,
            "title": title,
            "team_key": team_key,
            "provider": provider,
            "dispatched_at": as_utc(now),
        }
        statement = self._insert(DedupEntryRow).values(issue_id=issue_id, **fields)
        async with self._transaction() as session:
            await session.execute(statement.on_conflict_do_update(index_elements=["issue_id"], set_=fields))

    async def is_within_dedup_window(self, issue_id: str, now: datetime, window: timedelta = DEDUP_WINDOW) -> bool:
        """Tell the dispatcher whether this ticket must wait for its window to close."""
        recent = exists().where(DedupEntryRow.issue_id == issue_id, DedupEntryRow.dispatched_at > as_utc(now) - window)
        async with self._transaction() as session:
            return bool(await session.scalar(select(recent)))

    async def list_dedup_window(self, now: datetime, window: timedelta = DEDUP_WINDOW) -> Sequence[DedupEntry]:
        """The tickets inside the window, most recently dispatched first, for the audit panel."""
        query = (
            select(DedupEntryRow)
            .where(DedupEntryRow.dispatched_at > as_utc(now) - window)
            .order_by(DedupEntryRow.dispatched_at.desc(), DedupEntryRow.issue_id)
        )
        async with self._transaction() as session:
            rows = await session.scalars(query)
            return [_dedup_entry(row) for row in rows]

    async def remove_dedup(self, issue_id: str) -> bool:
        """Let an operator re-dispatch a ticket early; False when it was not in the ledger."""
        statement = delete(DedupEntryRow).where(DedupEntryRow.issue_id == issue_id)
        async with self._transaction() as session:
            return await self._rows_affected(session, statement) > 0

    async def purge_dedup(self, now: datetime, window: timedelta = DEDUP_WINDOW) -> int:
        """Drop entries whose window has closed; returns how many were dropped."""
        statement = delete(DedupEntryRow).where(DedupEntryRow.dispatched_at <= as_utc(now) - window)
        async with self._transaction() as session:
            return await self._rows_affected(session, statement)


def _dedup_entry(row: DedupEntryRow) -> DedupEntry:
    return DedupEntry(
        issue_id=row.issue_id,
        identifier=row.identifier,
        title=row.title,
        team_key=row.team_key,
        provider=row.provider,
        dispatched_at=row.dispatched_at,
    )
