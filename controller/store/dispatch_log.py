"""The dispatch log behind "Pipelines (jobs)" and GET /api/log: every dispatch, kept as history.

Entries are appended when a Dispatch is created and outlive the resource; only the status, the
pull request and the message of an entry change afterwards.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update

from controller.store.base import StoreBase
from controller.store.records import DispatchLogEntry, Usage
from controller.store.tables import DispatchLogRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import DispatchKind

DISPATCH_LOG_PAGE: Final = 500
"""How many entries GET /api/log shows."""
_IDS_PER_QUERY: Final = 500
"""Keeps IN lists well below every driver's limit on bound parameters."""


class DispatchLog(StoreBase):
    """Append dispatches, follow their status, and list the latest."""

    async def append_dispatch_log(
        self,
        *,
        now: datetime,
        issue_id: str,
        identifier: str,
        title: str,
        team_key: str,
        repo: str,
        kind: DispatchKind,
        iteration: int,
        runner_mode: str,
        session_image: str,
        status: str,
        pull_request_url: str | None = None,
        dispatch_name: str | None = None,
        message: str | None = None,
    ) -> DispatchLogEntry:
        """Log a dispatch as it happens; the entry returned carries its id."""
        row = DispatchLogRow(
            created_at=as_utc(now),
            issue_id=issue_id,
            identifier=identifier,
            title=title,
            team_key=team_key,
            repo=repo,
            kind=kind,
            iteration=iteration,
            runner_mode=runner_mode,
            session_image=session_image,
            status=status,
            pull_request_url=pull_request_url,
            dispatch_name=dispatch_name,
            message=message,
        )
        async with self._transaction() as session:
            session.add(row)
            await session.flush()
            return _dispatch_log_entry(row)

    async def update_dispatch_status(
        self,
        dispatch_name: str,
        status: str,
        pull_request_url: str | None = None,
        message: str | None = None,
        steps: Sequence[Mapping[str, Any]] | None = None,
        finished_at: datetime | None = None,
        usage: Usage | None = None,
        summary: str | None = None,
    ) -> bool:
        """Follow a Dispatch's phase; an argument left None keeps what is already logged.

        Returns False when no entry carries that dispatch name, which means it was never logged.
        """
        changes: dict[str, Any] = {"status": status}
        if pull_request_url is not None:
            changes["pull_request_url"] = pull_request_url
        if message is not None:
            changes["message"] = message
        if steps is not None:
            changes["steps"] = [dict(step) for step in steps]
        if finished_at is not None:
            changes["finished_at"] = as_utc(finished_at)
        if usage is not None:
            changes |= {
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_read_tokens": usage.cache_read_tokens,
                "cache_creation_tokens": usage.cache_creation_tokens,
                "cost_usd": usage.cost_usd,
                "model": usage.model,
            }
        if summary is not None:
            changes["summary"] = summary
        statement = update(DispatchLogRow).where(DispatchLogRow.dispatch_name == dispatch_name).values(changes)
        async with self._transaction() as session:
            return await self._rows_affected(session, statement) > 0

    async def recent_dispatch_log(self, limit: int = DISPATCH_LOG_PAGE) -> Sequence[DispatchLogEntry]:
        """The latest entries, newest first."""
        query = select(DispatchLogRow).order_by(DispatchLogRow.created_at.desc(), DispatchLogRow.id.desc()).limit(limit)
        async with self._transaction() as session:
            rows = await session.scalars(query)
            return [_dispatch_log_entry(row) for row in rows]

    async def dispatch_outcomes_since(self, since: datetime) -> Sequence[tuple[datetime, str]]:
        """(created_at, status) of every entry since `since`, oldest first: what a trend counts, and no more."""
        query = (
            select(DispatchLogRow.created_at, DispatchLogRow.status)
            .where(DispatchLogRow.created_at >= as_utc(since))
            .order_by(DispatchLogRow.created_at, DispatchLogRow.id)
        )
        async with self._transaction() as session:
            return [(as_utc(at), status) for at, status in await session.execute(query)]

    async def dispatch_log_since(
        self, since: datetime, statuses: Iterable[str], limit: int = DISPATCH_LOG_PAGE
    ) -> Sequence[DispatchLogEntry]:
        """The latest entries since `since` with one of `statuses`, newest first."""
        query = (
            select(DispatchLogRow)
            .where(DispatchLogRow.created_at >= as_utc(since), DispatchLogRow.status.in_(sorted(set(statuses))))
            .order_by(DispatchLogRow.created_at.desc(), DispatchLogRow.id.desc())
            .limit(limit)
        )
        async with self._transaction() as session:
            return [_dispatch_log_entry(row) for row in await session.scalars(query)]

    async def dispatch_log_entry(self, dispatch_name: str) -> DispatchLogEntry | None:
        """The entry of one dispatch, by its resource name."""
        query = (
            select(DispatchLogRow)
            .where(DispatchLogRow.dispatch_name == dispatch_name)
            .order_by(DispatchLogRow.id.desc())
        )
        async with self._transaction() as session:
            row = (await session.scalars(query.limit(1))).first()
            return _dispatch_log_entry(row) if row is not None else None

    async def usage_of_pull_requests(self, urls: Iterable[str]) -> dict[str, Usage]:
        """The summed usage of every logged run on each of these pull requests (those with any)."""
        wanted = sorted(set(urls))
        totals: dict[str, Usage] = {}
        async with self._transaction() as session:
            for start in range(0, len(wanted), _IDS_PER_QUERY):
                query = select(DispatchLogRow).where(
                    DispatchLogRow.pull_request_url.in_(wanted[start : start + _IDS_PER_QUERY])
                )
                for row in await session.scalars(query):
                    usage = _usage(row)
                    if usage is not None and row.pull_request_url is not None:
                        url = row.pull_request_url
                        totals[url] = totals[url] + usage if url in totals else usage
        return totals

    async def dispatch_log_for_issues(self, issue_ids: Iterable[str]) -> Sequence[DispatchLogEntry]:
        """Every logged dispatch of these tickets, oldest first: the history a decision reads."""
        wanted = sorted(set(issue_ids))
        entries: list[DispatchLogEntry] = []
        async with self._transaction() as session:
            for start in range(0, len(wanted), _IDS_PER_QUERY):
                query = select(DispatchLogRow).where(
                    DispatchLogRow.issue_id.in_(wanted[start : start + _IDS_PER_QUERY])
                )
                entries += [_dispatch_log_entry(row) for row in await session.scalars(query)]
        return sorted(entries, key=lambda entry: (entry.created_at, entry.id))


def _dispatch_log_entry(row: DispatchLogRow) -> DispatchLogEntry:
    return DispatchLogEntry(
        id=row.id,
        created_at=row.created_at,
        issue_id=row.issue_id,
        identifier=row.identifier,
        title=row.title,
        team_key=row.team_key,
        repo=row.repo,
        kind=row.kind,
        iteration=row.iteration,
        runner_mode=row.runner_mode,
        session_image=row.session_image,
        status=row.status,
        pull_request_url=row.pull_request_url,
        dispatch_name=row.dispatch_name,
        message=row.message,
        steps=tuple(row.steps or ()),
        finished_at=row.finished_at,
        usage=_usage(row),
        summary=row.summary,
    )


def _usage(row: DispatchLogRow) -> Usage | None:
    if row.cost_usd is None and row.input_tokens is None:
        return None
    return Usage(
        input_tokens=row.input_tokens or 0,
        output_tokens=row.output_tokens or 0,
        cache_read_tokens=row.cache_read_tokens or 0,
        cache_creation_tokens=row.cache_creation_tokens or 0,
        cost_usd=row.cost_usd or 0.0,
        model=row.model,
    )
