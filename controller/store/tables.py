"""The store's tables as SQLAlchemy declarative models; the migrations must build exactly this schema.

Rows never leave the store: the repository converts them into the frozen records of `records.py`.
Closed vocabularies are CHECK constraints so that a typo cannot be stored; open ones (statuses,
runner modes) stay plain strings so that new values need no migration.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

from sqlalchemy import JSON, BigInteger, CheckConstraint, Float, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from controller.store.timestamps import UtcDateTime
from controller.store.vocabulary import (
    DISPATCH_KINDS,
    FEEDBACK_KINDS,
    PULL_REQUEST_JOB_STATUSES,
    PULL_REQUEST_STATES,
    REAPER_BACKENDS,
    REAPER_OUTCOMES,
    REAPER_RULES,
    RUNNER_TOKEN_PURPOSES,
    SESSION_BACKENDS,
    SESSION_RESET_STATES,
    TICKETING_PROVIDERS,
    DispatchKind,
    FeedbackKind,
    JsonValue,
    PullRequestJobStatus,
    PullRequestState,
    ReaperBackend,
    ReaperOutcome,
    ReaperRule,
    RunnerTokenPurpose,
    SessionBackend,
    SessionResetState,
    TicketingProvider,
)

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Names every constraint and index, so that migrations can refer to them on both databases."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[Mapping[Any, TypeEngine[Any]]] = {datetime: UtcDateTime()}


def one_of(column: str, words: Iterable[str]) -> CheckConstraint:
    """Restrict a column to one vocabulary of `vocabulary.py`."""
    quoted = ", ".join(f"'{word}'" for word in words)
    return CheckConstraint(f"{column} IN ({quoted})", name=column)


class DedupEntryRow(Base):
    """A ticket dispatched recently; while its row is inside the window it is not dispatched again."""

    __tablename__ = "dedup_entries"
    __table_args__ = (one_of("provider", TICKETING_PROVIDERS),)

    issue_id: Mapped[str] = mapped_column(String, primary_key=True)
    identifier: Mapped[str]
    title: Mapped[str] = mapped_column(Text)
    team_key: Mapped[str]
    provider: Mapped[TicketingProvider] = mapped_column(String)
    dispatched_at: Mapped[datetime] = mapped_column(index=True)


class DispatchLogRow(Base):
    """One dispatch as shown in "Pipelines (jobs)"; kept after its Dispatch resource is deleted."""

    __tablename__ = "dispatch_log"
    __table_args__ = (one_of("kind", DISPATCH_KINDS),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    issue_id: Mapped[str] = mapped_column(index=True)
    identifier: Mapped[str]
    title: Mapped[str] = mapped_column(Text)
    team_key: Mapped[str]
    repo: Mapped[str]
    kind: Mapped[DispatchKind] = mapped_column(String)
    iteration: Mapped[int]
    runner_mode: Mapped[str]
    session_image: Mapped[str] = mapped_column(Text)
    status: Mapped[str]
    pull_request_url: Mapped[str | None] = mapped_column(Text)
    dispatch_name: Mapped[str | None] = mapped_column(index=True)
    message: Mapped[str | None] = mapped_column(Text)
    steps: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    finished_at: Mapped[datetime | None]
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_creation_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    model: Mapped[str | None]
    summary: Mapped[str | None] = mapped_column(Text)


class IssueSnapshotRow(Base):
    """A ticket as the last poll of its provider saw it: the inbox and the blockers panel."""

    __tablename__ = "issue_snapshots"
    __table_args__ = (one_of("provider", TICKETING_PROVIDERS),)

    issue_id: Mapped[str] = mapped_column(String, primary_key=True)
    identifier: Mapped[str]
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    team_key: Mapped[str]
    provider: Mapped[TicketingProvider] = mapped_column(String, index=True)
    state: Mapped[str]
    readiness: Mapped[str]
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class RunnerTokenRow(Base):
    """A runner callback token by its JWT id: the ledger that makes result tokens single-use."""

    __tablename__ = "runner_tokens"
    __table_args__ = (one_of("purpose", RUNNER_TOKEN_PURPOSES),)

    jti: Mapped[str] = mapped_column(String, primary_key=True)
    dispatch_uid: Mapped[str]
    purpose: Mapped[RunnerTokenPurpose] = mapped_column(String)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    consumed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class SettingRow(Base):
    """An orchestrator setting changed from the admin UI (runner mode, Fly app and region)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[JsonValue] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None]


class ReaperActionRow(Base):
    """A runner resource the reaper destroyed, or would have destroyed in a dry run."""

    __tablename__ = "reaper_actions"
    __table_args__ = (
        one_of("rule", REAPER_RULES),
        one_of("backend", REAPER_BACKENDS),
        one_of("outcome", REAPER_OUTCOMES),
        CheckConstraint(
            "(dry_run AND outcome = 'dry-run') OR (NOT dry_run AND outcome <> 'dry-run')",
            name="dry_run_matches_outcome",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    rule: Mapped[ReaperRule] = mapped_column(String)
    backend: Mapped[ReaperBackend] = mapped_column(String)
    resource_id: Mapped[str]
    tenant: Mapped[str | None]
    issue_identifier: Mapped[str | None]
    age_seconds: Mapped[int]
    dry_run: Mapped[bool]
    outcome: Mapped[ReaperOutcome] = mapped_column(String)
    message: Mapped[str | None] = mapped_column(Text)


class ReaperSweepRow(Base):
    """One pass of the reaper, so that the last sweep is known even when it destroyed nothing."""

    __tablename__ = "reaper_sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime] = mapped_column(index=True)
    dry_run: Mapped[bool]
    error: Mapped[str | None] = mapped_column(Text)


class ReaperAlertRow(Base):
    """An alert the reaper sent, so that every replica knows when the last one went out."""

    __tablename__ = "reaper_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int]
    threshold: Mapped[int]


class WebhookDeliveryRow(Base):
    """A webhook delivery id already accepted; a second delivery with the same id is a replay."""

    __tablename__ = "webhook_deliveries"

    source: Mapped[str] = mapped_column(String, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class TicketWakeupRow(Base):
    """A ticket a webhook announced; the active operator decides about it without waiting for a poll."""

    __tablename__ = "ticket_wakeups"
    __table_args__ = (one_of("provider", TICKETING_PROVIDERS),)

    provider: Mapped[TicketingProvider] = mapped_column(String, primary_key=True)
    ticket_ref: Mapped[str] = mapped_column(String, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class AdminAuditRow(Base):
    """A change made through the admin UI or API; details never hold secret values."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str]
    action: Mapped[str]
    target: Mapped[str]
    details: Mapped[dict[str, JsonValue]] = mapped_column(JSON)


class PullRequestRow(Base):
    """A pull request a run opened, followed through reviews until it is merged or closed."""

    __tablename__ = "pull_requests"
    __table_args__ = (
        one_of("state", PULL_REQUEST_STATES),
        one_of("job_status", PULL_REQUEST_JOB_STATUSES),
        one_of("provider", TICKETING_PROVIDERS),
    )

    repo: Mapped[str] = mapped_column(String, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    head_branch: Mapped[str | None]
    issue_id: Mapped[str] = mapped_column(index=True)
    identifier: Mapped[str]
    title: Mapped[str] = mapped_column(Text)
    issue_url: Mapped[str] = mapped_column(Text)
    team_key: Mapped[str]
    provider: Mapped[TicketingProvider] = mapped_column(String)
    state: Mapped[PullRequestState] = mapped_column(String)
    job_status: Mapped[PullRequestJobStatus] = mapped_column(String)
    iteration: Mapped[int]
    last_dispatch_name: Mapped[str | None]
    last_dispatched_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    close_handled_at: Mapped[datetime | None]
    """When the operator acted on the merge or close (ticket completed or released); None until then."""


class ReviewFeedbackRow(Base):
    """A review, review comment or conversation comment on a tracked pull request, until a run takes it up."""

    __tablename__ = "review_feedback"
    __table_args__ = (
        one_of("kind", FEEDBACK_KINDS),
        UniqueConstraint("repo", "kind", "github_id", name="uq_review_feedback_github_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(index=True)
    number: Mapped[int]
    kind: Mapped[FeedbackKind] = mapped_column(String)
    author: Mapped[str]
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(index=True)
    dispatch_name: Mapped[str | None]
    """The review run that took this feedback up; None while it waits."""
    github_id: Mapped[str | None]
    """The review's or comment's id on GitHub: a redelivered one is recorded once."""
    ignored_reason: Mapped[str | None] = mapped_column(Text)
    """Why no run takes this feedback up (e.g. its author cannot push); None for feedback to act on."""


class LiveSessionRow(Base):
    """A runner resource the last census of its backend listed; the API reads these, never the backends."""

    __tablename__ = "live_sessions"
    __table_args__ = (one_of("backend", SESSION_BACKENDS),)

    backend: Mapped[SessionBackend] = mapped_column(String, primary_key=True)
    resource_id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str]
    state: Mapped[str]
    backend_state: Mapped[str]
    created_at: Mapped[datetime | None]
    """When the backend created the resource, if it says."""
    first_seen_at: Mapped[datetime]
    observed_at: Mapped[datetime]
    region: Mapped[str | None]
    app: Mapped[str | None]
    url: Mapped[str | None] = mapped_column(Text)
    dispatch_name: Mapped[str | None]
    issue_identifier: Mapped[str | None]
    issue_url: Mapped[str | None] = mapped_column(Text)
    team_key: Mapped[str | None]
    repo: Mapped[str | None]
    tenant: Mapped[str | None]
    namespace: Mapped[str | None]


class SessionCensusRow(Base):
    """How the last census of one backend went, so that a stale or failing list is visible."""

    __tablename__ = "session_census"
    __table_args__ = (one_of("backend", SESSION_BACKENDS),)

    backend: Mapped[SessionBackend] = mapped_column(String, primary_key=True)
    last_attempt_at: Mapped[datetime]
    last_success_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class SessionResetRow(Base):
    """A destroy-and-reset of a session the API asked for and the leader carries out."""

    __tablename__ = "session_resets"
    __table_args__ = (
        one_of("backend", SESSION_BACKENDS),
        one_of("state", SESSION_RESET_STATES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    backend: Mapped[SessionBackend] = mapped_column(String)
    resource_id: Mapped[str]
    requested_by: Mapped[str]
    requested_at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[SessionResetState] = mapped_column(String)
    finished_at: Mapped[datetime | None]
    message: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, JsonValue]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime | None]
    """When the leader first took the request up: its give-up time counts from here."""
    destroyed_at: Mapped[datetime | None]
    """When the leader destroyed the resource: from then on the request only waits and resets the ticket."""
    dispatch_name: Mapped[str | None]
    shadow: Mapped[bool] = mapped_column(default=False)


class RepositoryCheckRow(Base):
    """The last read of a target repository's default branch; the API's template and models panels read these."""

    __tablename__ = "repository_checks"

    owner: Mapped[str] = mapped_column(String, primary_key=True)
    repo: Mapped[str] = mapped_column(String, primary_key=True)
    branch: Mapped[str] = mapped_column(String, primary_key=True)
    checked_at: Mapped[datetime]
    files: Mapped[dict[str, JsonValue]] = mapped_column(JSON)
    """Synced path → {"sha256", "templateVersion"}, or null for a file not on the branch; {} after an error."""
    implementation_model: Mapped[str | None] = mapped_column(Text)
    implementation_model_reason: Mapped[str | None] = mapped_column(Text)
    planning_model: Mapped[str | None] = mapped_column(Text)
    planning_model_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
