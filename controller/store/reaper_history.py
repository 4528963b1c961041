"""What the reaper did: each destroyed (or, in a dry run, condemned) resource, each sweep, each alert.

The Reaper panel reads its 24-hour summary, its recent-actions table and its last sweep time from
here; the alert threshold counts from here too, so every replica sees the same numbers, and the
alerts sent are kept so that a new leader does not send one again within the quiet period.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select

from controller.store.base import StoreBase
from controller.store.records import ReaperAction, ReaperCounts, ReaperSweep
from controller.store.tables import ReaperActionRow, ReaperAlertRow, ReaperSweepRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import (
    REAPER_BACKENDS,
    REAPER_OUTCOMES,
    REAPER_RULES,
    ReaperBackend,
    ReaperOutcome,
    ReaperRule,
)


class ReaperHistory(StoreBase):
    """Record reaper actions and sweeps; summarise them for the panel and the alert."""

    async def record_reaper_action(
        self,
        *,
        at: datetime,
        rule: ReaperRule,
        backend: ReaperBackend,
        resource_id: str,
        age_seconds: int,
        dry_run: bool,
        outcome: ReaperOutcome,
        tenant: str | None = None,
        issue_identifier: str | None = None,
        message: str | None = None,
    ) -> ReaperAction:
        """Log one resource the reaper acted on; a dry run must have the outcome "dry-run"."""
        if dry_run != (outcome == "dry-run"):
            raise ValueError(
                f"reaper outcome {outcome!r} contradicts dry_run={dry_run}: "
                "a dry run has the outcome 'dry-run', a live run 'destroyed' or 'failed'"
            )
        row = ReaperActionRow(
            at=as_utc(at),
            rule=rule,
            backend=backend,
            resource_id=resource_id,
            tenant=tenant,
            issue_identifier=issue_identifier,
            age_seconds=age_seconds,
            dry_run=dry_run,
            outcome=outcome,
            message=message,
        )
        async with self._transaction() as session:
            session.add(row)
            await session.flush()
            return _reaper_action(row)

    async def recent_reaper_actions(self, limit: int) -> Sequence[ReaperAction]:
        """The latest actions, newest first."""
        query = select(ReaperActionRow).order_by(ReaperActionRow.at.desc(), ReaperActionRow.id.desc()).limit(limit)
        async with self._transaction() as session:
            rows = await session.scalars(query)
            return [_reaper_action(row) for row in rows]

    async def reaper_counts_since(self, since: datetime) -> ReaperCounts:
        """Count actions at or after `since` by rule, outcome and backend; every word of each appears."""
        query = (
            select(ReaperActionRow.rule, ReaperActionRow.outcome, ReaperActionRow.backend, func.count())
            .where(ReaperActionRow.at >= as_utc(since))
            .group_by(ReaperActionRow.rule, ReaperActionRow.outcome, ReaperActionRow.backend)
        )
        by_rule = dict.fromkeys(REAPER_RULES, 0)
        by_outcome = dict.fromkeys(REAPER_OUTCOMES, 0)
        destroyed_by_rule = dict.fromkeys(REAPER_RULES, 0)
        destroyed_by_backend = dict.fromkeys(REAPER_BACKENDS, 0)
        dry_run_by_rule = dict.fromkeys(REAPER_RULES, 0)
        async with self._transaction() as session:
            for rule, outcome, backend, count in await session.execute(query):
                by_rule[rule] += count
                by_outcome[outcome] += count
                if outcome == "destroyed":
                    destroyed_by_rule[rule] += count
                    destroyed_by_backend[backend] += count
                elif outcome == "dry-run":
                    dry_run_by_rule[rule] += count
        total = sum(by_rule.values())
        return ReaperCounts(
            total=total,
            by_rule=by_rule,
            by_outcome=by_outcome,
            dry_run=by_outcome["dry-run"],
            live=total - by_outcome["dry-run"],
            destroyed_by_rule=destroyed_by_rule,
            destroyed_by_backend=destroyed_by_backend,
            dry_run_by_rule=dry_run_by_rule,
        )

    async def last_reaper_action_at(self) -> datetime | None:
        """When the reaper last acted on anything, or None if it never has."""
        async with self._transaction() as session:
            return await session.scalar(select(func.max(ReaperActionRow.at)))

    async def record_reaper_sweep(
        self, *, started_at: datetime, finished_at: datetime, dry_run: bool, error: str | None = None
    ) -> None:
        """Log a finished sweep, including one that found nothing to do or stopped on an error."""
        row = ReaperSweepRow(
            started_at=as_utc(started_at), finished_at=as_utc(finished_at), dry_run=dry_run, error=error
        )
        async with self._transaction() as session:
            session.add(row)

    async def last_reaper_sweep(self) -> ReaperSweep | None:
        """The most recently finished sweep, or None before the first one."""
        query = select(ReaperSweepRow).order_by(ReaperSweepRow.finished_at.desc(), ReaperSweepRow.id.desc())
        async with self._transaction() as session:
            row = await session.scalar(query.limit(1))
            if row is None:
                return None
            return ReaperSweep(
                started_at=row.started_at, finished_at=row.finished_at, dry_run=row.dry_run, error=row.error
            )

    async def record_reaper_alert(self, *, at: datetime, count: int, threshold: int) -> None:
        """Log an alert as it is sent: `count` actions crossed `threshold`."""
        async with self._transaction() as session:
            session.add(ReaperAlertRow(at=as_utc(at), count=count, threshold=threshold))

    async def last_reaper_alert_at(self) -> datetime | None:
        """When the last alert went out, or None if none has (or it was purged)."""
        async with self._transaction() as session:
            return await session.scalar(select(func.max(ReaperAlertRow.at)))

    async def purge_reaper_history(self, older_than: datetime) -> int:
        """Drop actions, sweeps and alerts before `older_than`; returns how many rows were dropped."""
        cutoff = as_utc(older_than)
        async with self._transaction() as session:
            actions = await self._rows_affected(session, delete(ReaperActionRow).where(ReaperActionRow.at < cutoff))
            sweeps = await self._rows_affected(
                session, delete(ReaperSweepRow).where(ReaperSweepRow.finished_at < cutoff)
            )
            alerts = await self._rows_affected(session, delete(ReaperAlertRow).where(ReaperAlertRow.at < cutoff))
        return actions + sweeps + alerts


def _reaper_action(row: ReaperActionRow) -> ReaperAction:
    return ReaperAction(
        id=row.id,
        at=row.at,
        rule=row.rule,
        backend=row.backend,
        resource_id=row.resource_id,
        tenant=row.tenant,
        issue_identifier=row.issue_identifier,
        age_seconds=row.age_seconds,
        dry_run=row.dry_run,
        outcome=row.outcome,
        message=row.message,
    )
