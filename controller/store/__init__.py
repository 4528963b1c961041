"""The SQL store: history and ledgers that Kubernetes resources do not hold.

SQLite (one file shared by the operator and the api, in WAL mode) by default, PostgreSQL through
DATABASE_URL for several replicas. Run `upgrade_database(url)` at start, then use one `Store`.
"""

from controller.store.admin_audit import AdminAudit
from controller.store.dedup import DEDUP_WINDOW, DedupWindow
from controller.store.dispatch_log import DISPATCH_LOG_PAGE, DispatchLog
from controller.store.engine import create_store_engine
from controller.store.issue_snapshots import IssueSnapshots
from controller.store.live_sessions import LiveSessionPage, LiveSessions, SessionKey, session_key
from controller.store.migrate import upgrade_database
from controller.store.reaper_history import ReaperHistory
from controller.store.records import (
    AuditEntry,
    CensusState,
    CheckedFile,
    DedupEntry,
    DispatchLogEntry,
    IssueSnapshot,
    LiveSession,
    ObservedSession,
    ReaperAction,
    ReaperCounts,
    ReaperSweep,
    RepositoryCheck,
    ReviewFeedback,
    SessionReset,
    SettingValue,
    TicketWakeup,
    TrackedPullRequest,
    Usage,
)
from controller.store.repository import Store
from controller.store.repository_checks import RepositoryChecks
from controller.store.runner_tokens import RunnerTokens
from controller.store.session_resets import SessionResets
from controller.store.stored_settings import RunnerModeReader, StoredSettings, runner_mode_in_force
from controller.store.ticket_wakeups import TicketWakeups
from controller.store.urls import database_url, database_url_from_settings, redact_database_url
from controller.store.vocabulary import (
    DecisionReason,
    DispatchKind,
    JsonValue,
    ReaperBackend,
    ReaperOutcome,
    ReaperRule,
    RunnerTokenPurpose,
    SessionBackend,
    SessionResetState,
    TicketingProvider,
)
from controller.store.webhook_deliveries import WebhookDeliveries

__all__ = [
    "DEDUP_WINDOW",
    "DISPATCH_LOG_PAGE",
    "AdminAudit",
    "AuditEntry",
    "CensusState",
    "CheckedFile",
    "DecisionReason",
    "DedupEntry",
    "DedupWindow",
    "DispatchKind",
    "DispatchLog",
    "DispatchLogEntry",
    "IssueSnapshot",
    "IssueSnapshots",
    "JsonValue",
    "LiveSession",
    "LiveSessionPage",
    "LiveSessions",
    "ObservedSession",
    "ReaperAction",
    "ReaperBackend",
    "ReaperCounts",
    "ReaperHistory",
    "ReaperOutcome",
    "ReaperRule",
    "ReaperSweep",
    "RepositoryCheck",
    "RepositoryChecks",
    "ReviewFeedback",
    "RunnerModeReader",
    "RunnerTokenPurpose",
    "RunnerTokens",
    "SessionBackend",
    "SessionKey",
    "SessionReset",
    "SessionResetState",
    "SessionResets",
    "SettingValue",
    "Store",
    "StoredSettings",
    "TicketWakeup",
    "TicketWakeups",
    "TicketingProvider",
    "TrackedPullRequest",
    "Usage",
    "WebhookDeliveries",
    "create_store_engine",
    "database_url",
    "database_url_from_settings",
    "redact_database_url",
    "runner_mode_in_force",
    "session_key",
    "upgrade_database",
]
