"""The inbox and blockers snapshot: what each provider's last poll saw, replaced whole on every poll.

Replacing per provider in one transaction means a reader sees either the previous poll or the new
one, never half of each, and a ticket that left the scope disappears with the poll that lost it.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from controller.store.base import StoreBase
from controller.store.records import IssueSnapshot
from controller.store.tables import IssueSnapshotRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import TicketingProvider

_SNAPSHOT_COLUMNS = tuple(column.key for column in IssueSnapshotRow.__table__.columns)
_INBOX_ORDER = (IssueSnapshotRow.team_key, IssueSnapshotRow.identifier, IssueSnapshotRow.issue_id)

InboxKey = tuple[str, str, str]
"""A ticket's place in the inbox: (team key, identifier, issue id); the id makes it unique."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueSnapshotPage:
    """Up to `limit` tickets in inbox order, and whether there are more on either side of them."""

    snapshots: Sequence[IssueSnapshot]
    more_before: bool
    more_after: bool
    total: int
    """Every ticket of the last polls, on every page."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamIssueCounts:
    """One team's tickets of the last polls: how many per readiness, and how many held back."""

    by_readiness: Mapping[str, int]
    blocked: int


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

    async def issue_snapshot_page(
        self, *, after: InboxKey | None = None, before: InboxKey | None = None, limit: int
    ) -> IssueSnapshotPage:
        """The `limit` tickets after `after` (or before `before`, or the first ones) in inbox order.

        Keyset paging: the query starts at a ticket's sort key rather than skipping an offset, so a
        page reads the page and a ticket that comes or goes moves no other ticket to another page.
        """
        page = await self._keyset_page(IssueSnapshotRow, _INBOX_ORDER, after=after, before=before, limit=limit)
        return IssueSnapshotPage(
            snapshots=[_issue_snapshot(row) for row in page.rows],
            more_before=page.more_before,
            more_after=page.more_after,
            total=page.total,
        )

    async def issue_counts_by_team(self, team_keys: Collection[str]) -> Mapping[str, TeamIssueCounts]:
        """Each team's counts, counted by the database over its tickets only (the teams of a page of the inbox)."""
        if not team_keys:
            return {}
        query = (
            select(
                IssueSnapshotRow.team_key,
                IssueSnapshotRow.readiness,
                func.count(),
                func.count(IssueSnapshotRow.blocked_reason),
            )
            .where(IssueSnapshotRow.team_key.in_(sorted(set(team_keys))))
            .group_by(IssueSnapshotRow.team_key, IssueSnapshotRow.readiness)
        )
        readiness: dict[str, dict[str, int]] = {}
        blocked: dict[str, int] = {}
        async with self._transaction() as session:
            for team_key, ready_state, count, held_back in await session.execute(query):
                readiness.setdefault(team_key, {})[ready_state] = count
                blocked[team_key] = blocked.get(team_key, 0) + held_back
        return {team: TeamIssueCounts(by_readiness=readiness[team], blocked=blocked[team]) for team in readiness}


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
