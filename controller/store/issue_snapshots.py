"""The inbox and blockers snapshot: what each provider's last poll saw, replaced whole on every poll.

Replacing per provider in one transaction means a reader sees either the previous poll or the new
one, never half of each, and a ticket that left the scope disappears with the poll that lost it.
"""

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select

from controller.store.base import StoreBase
from controller.store.records import IssueSnapshot
from controller.store.tables import IssueSnapshotRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import TicketingProvider

_SNAPSHOT_COLUMNS = tuple(column.key for column in IssueSnapshotRow.__table__.columns)


class IssueSnapshots(StoreBase):
    """Replace one provider's snapshot; list all providers' together."""

    async def replace_issue_snapshot(self, provider: TicketingProvider, snapshots: Iterable[IssueSnapshot]) -> None:
        """Swap in the result of one provider's poll, leaving the other provider's rows alone."""
        rows = [_issue_snapshot_row(snapshot) for snapshot in snapshots]
        strays = sorted(row.identifier for row in rows if row.provider != provider)
        if strays:
            raise ValueError(
                f"cannot replace the {provider} snapshot with tickets of another provider: {', '.join(strays)}"
            )
        async with self._transaction() as session:
            await self._serialise(session, "issue_snapshots")
            await session.execute(delete(IssueSnapshotRow).where(IssueSnapshotRow.provider == provider))
            session.add_all(rows)

    async def upsert_issue_snapshot(self, snapshot: IssueSnapshot) -> None:
        """Refresh one ticket between polls (after a webhook), leaving the rest of its provider's rows alone."""
        row = _issue_snapshot_row(snapshot)
        fields = {column: getattr(row, column) for column in _SNAPSHOT_COLUMNS if column != "issue_id"}
        statement = self._insert(IssueSnapshotRow).values(issue_id=row.issue_id, **fields)
        async with self._transaction() as session:
            await self._serialise(session, "issue_snapshots")
            await session.execute(statement.on_conflict_do_update(index_elements=["issue_id"], set_=fields))

    async def list_issue_snapshots(self) -> Sequence[IssueSnapshot]:
        """Every ticket of the last polls, grouped by team and ordered by identifier."""
        query = select(IssueSnapshotRow).order_by(IssueSnapshotRow.team_key, IssueSnapshotRow.identifier)
        async with self._transaction() as session:
            rows = await session.scalars(query)
            return [_issue_snapshot(row) for row in rows]


def _issue_snapshot_row(snapshot: IssueSnapshot) -> IssueSnapshotRow:
    return IssueSnapshotRow(
        issue_id=snapshot.issue_id,
        identifier=snapshot.identifier,
        title=snapshot.title,
        url=snapshot.url,
        team_key=snapshot.team_key,
        provider=snapshot.provider,
        state=snapshot.state,
        readiness=snapshot.readiness,
        blocked_reason=snapshot.blocked_reason,
        message=snapshot.message,
        updated_at=as_utc(snapshot.updated_at),
    )


def _issue_snapshot(row: IssueSnapshotRow) -> IssueSnapshot:
    return IssueSnapshot(
        issue_id=row.issue_id,
        identifier=row.identifier,
        title=row.title,
        url=row.url,
        team_key=row.team_key,
        provider=row.provider,
        state=row.state,
        readiness=row.readiness,
        blocked_reason=row.blocked_reason,
        message=row.message,
        updated_at=row.updated_at,
    )
