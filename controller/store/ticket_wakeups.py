"""Tickets announced by webhooks, waiting for the active operator to decide about them.

The API process that receives a webhook only verifies and records it here; deciding stays with the
one operator that holds the lease, so that caps hold however events and polls interleave.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select

from controller.store.base import StoreBase
from controller.store.records import TicketWakeup
from controller.store.tables import TicketWakeupRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import TicketingProvider


class TicketWakeups(StoreBase):
    """Record, list and clear wakeups; several for one ticket collapse into the latest."""

    async def request_ticket_wakeup(self, provider: TicketingProvider, ticket_ref: str, now: datetime) -> None:
        fields = {"received_at": as_utc(now)}
        statement = self._insert(TicketWakeupRow).values(provider=provider, ticket_ref=ticket_ref, **fields)
        async with self._transaction() as session:
            await session.execute(
                statement.on_conflict_do_update(index_elements=["provider", "ticket_ref"], set_=fields)
            )

    async def pending_ticket_wakeups(self, limit: int = 100) -> Sequence[TicketWakeup]:
        """The oldest waiting wakeups first."""
        query = select(TicketWakeupRow).order_by(TicketWakeupRow.received_at).limit(limit)
        async with self._transaction() as session:
            rows = await session.scalars(query)
            return [TicketWakeup(provider=r.provider, ticket_ref=r.ticket_ref, received_at=r.received_at) for r in rows]

    async def clear_ticket_wakeup(self, wakeup: TicketWakeup) -> bool:
        """Forget a handled wakeup, unless a newer one for the same ticket arrived meanwhile."""
        statement = delete(TicketWakeupRow).where(
            TicketWakeupRow.provider == wakeup.provider,
            TicketWakeupRow.ticket_ref == wakeup.ticket_ref,
            TicketWakeupRow.received_at == as_utc(wakeup.received_at),
        )
        async with self._transaction() as session:
            return await self._rows_affected(session, statement) == 1
