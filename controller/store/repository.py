"""The `Store` facade: one object, one engine, every operation of the store.

Each part of the store is a class of its own module (dedup window, dispatch log, ...); a consumer
that needs only one part can name that class as the type it depends on.
"""

from types import TracebackType
from typing import Self

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from controller.store.admin_audit import AdminAudit
from controller.store.dedup import DedupWindow
from controller.store.dispatch_log import DispatchLog
from controller.store.engine import create_store_engine
from controller.store.issue_snapshots import IssueSnapshots
from controller.store.live_sessions import LiveSessions
from controller.store.pull_requests import PullRequests
from controller.store.reaper_history import ReaperHistory
from controller.store.repository_checks import RepositoryChecks
from controller.store.runner_tokens import RunnerTokens
from controller.store.session_resets import SessionResets
from controller.store.stored_settings import StoredSettings
from controller.store.ticket_wakeups import TicketWakeups
from controller.store.webhook_deliveries import WebhookDeliveries


class Store(
    PullRequests,
    DedupWindow,
    DispatchLog,
    IssueSnapshots,
    RunnerTokens,
    StoredSettings,
    ReaperHistory,
    WebhookDeliveries,
    TicketWakeups,
    AdminAudit,
    LiveSessions,
    SessionResets,
    RepositoryChecks,
):
    """The store of one process; it owns its engine and closes it in `close()`."""

    @classmethod
    def from_url(cls, url: str) -> Self:
        """Open a store on a URL from `database_url()`; `upgrade_database` must have run on it."""
        return cls(create_store_engine(url))

    async def is_reachable(self) -> bool:
        """Whether the database answers a trivial query now; for readiness probes, so it never raises."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return False
        return True

    async def close(self) -> None:
        """Close every pooled connection, so that SQLite checkpoints its WAL and tests leave no files open."""
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
