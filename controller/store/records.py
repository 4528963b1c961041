"""The values the store hands out and takes in: frozen, detached from any session, safe to cache."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.store.vocabulary import (
    DispatchKind,
    FeedbackKind,
    JsonValue,
    PullRequestJobStatus,
    PullRequestState,
    ReaperBackend,
    ReaperOutcome,
    ReaperRule,
    SessionBackend,
    SessionResetState,
    TicketingProvider,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DedupEntry:
    """A ticket inside the dedup window and when it was last dispatched."""

    issue_id: str
    identifier: str
    title: str
    team_key: str
    provider: TicketingProvider
    dispatched_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Tokens and cost the coding agent reported for a run (or their sum over several)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cost_usd: float = 0.0
    model: str | None = None

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_creation_tokens=self.cache_creation_tokens + other.cache_creation_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
            model=self.model if self.model == other.model else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchLogEntry:
    """One line of "Pipelines (jobs)"; `iteration` is the dispatch number of the ticket."""

    id: int
    created_at: datetime
    issue_id: str
    identifier: str
    title: str
    team_key: str
    repo: str
    kind: DispatchKind
    iteration: int
    runner_mode: str
    session_image: str
    status: str
    pull_request_url: str | None
    dispatch_name: str | None
    message: str | None
    steps: tuple[Mapping[str, Any], ...] = ()
    """The run's steps as they stood when it ended (empty while it runs: the Dispatch has them)."""
    finished_at: datetime | None = None
    usage: Usage | None = None
    """What the agent reported using, once the run ended with a result that said."""
    summary: str | None = None
    """What the run produced in words (a planning run's plan), once it ended with one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueSnapshot:
    """A ticket in the inbox; `updated_at` is the ticket's last change as its provider reports it."""

    issue_id: str
    identifier: str
    title: str
    url: str
    team_key: str
    provider: TicketingProvider
    state: str
    readiness: str
    blocked_reason: str | None
    updated_at: datetime
    message: str | None = None
    """What the last decision said about the ticket, for people."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingValue:
    """A stored setting and who changed it last, so the UI can show where a value came from."""

    value: JsonValue
    updated_at: datetime
    updated_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaperAction:
    """A runner resource the reaper destroyed, failed to destroy, or only reported in a dry run."""

    id: int
    at: datetime
    rule: ReaperRule
    backend: ReaperBackend
    resource_id: str
    tenant: str | None
    issue_identifier: str | None
    age_seconds: int
    dry_run: bool
    outcome: ReaperOutcome
    message: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaperCounts:
    """Reaper actions since a moment, as the summary card and the alert threshold need them."""

    total: int
    by_rule: Mapping[ReaperRule, int]
    by_outcome: Mapping[ReaperOutcome, int]
    dry_run: int
    live: int
    destroyed_by_rule: Mapping[ReaperRule, int]
    destroyed_by_backend: Mapping[ReaperBackend, int]
    dry_run_by_rule: Mapping[ReaperRule, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaperSweep:
    """One pass of the reaper; `error` says why it stopped early, if it did."""

    started_at: datetime
    finished_at: datetime
    dry_run: bool
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """A change made through the admin UI or API."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: Mapping[str, JsonValue]


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketWakeup:
    """A ticket a webhook announced, waiting for a decision."""

    provider: TicketingProvider
    ticket_ref: str
    received_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedPullRequest:
    """A pull request a run opened, as the "Pull requests" panel shows it."""

    repo: str
    number: int
    url: str
    head_branch: str | None
    issue_id: str
    identifier: str
    title: str
    issue_url: str
    team_key: str
    provider: TicketingProvider
    state: PullRequestState
    job_status: PullRequestJobStatus
    iteration: int
    """The dispatch number of the latest run on it: 1 for the run that opened it."""
    last_dispatch_name: str | None
    last_dispatched_at: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewFeedback:
    """One piece of feedback on a tracked pull request."""

    id: int
    repo: str
    number: int
    kind: FeedbackKind
    author: str
    body: str
    url: str
    received_at: datetime
    dispatch_name: str | None
    github_id: str | None = None
    ignored_reason: str | None = None
    """Why no run takes it up (its author cannot push, …); None for feedback to act on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservedSession:
    """A runner resource as a census of its backend lists it; the store adds when it was first and last seen."""

    backend: SessionBackend
    resource_id: str
    name: str
    """The backend's name for it; "" when the backend has none."""
    state: str
    """created, starting, started, stopping...: the backend's state in the words all backends share."""
    backend_state: str
    """The state as the backend itself spells it."""
    created_at: datetime | None = None
    region: str | None = None
    app: str | None = None
    url: str | None = None
    dispatch_name: str | None = None
    issue_identifier: str | None = None
    issue_url: str | None = None
    team_key: str | None = None
    repo: str | None = None
    tenant: str | None = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveSession:
    """A runner resource the last census listed, as the sessions panel shows it."""

    backend: SessionBackend
    resource_id: str
    name: str
    state: str
    backend_state: str
    created_at: datetime | None
    first_seen_at: datetime
    """When a census first listed it; kept while later censuses keep listing it."""
    observed_at: datetime
    """When the latest census that listed it ran."""
    region: str | None
    app: str | None
    url: str | None
    dispatch_name: str | None
    issue_identifier: str | None
    issue_url: str | None
    team_key: str | None
    repo: str | None
    tenant: str | None
    namespace: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CensusState:
    """How listing one backend went lately; `error` is the last attempt's failure, None when it succeeded."""

    backend: SessionBackend
    last_attempt_at: datetime
    last_success_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionReset:
    """A destroy-and-reset of a session: asked for through the API, carried out by the leader."""

    id: int
    backend: SessionBackend
    resource_id: str
    requested_by: str
    requested_at: datetime
    state: SessionResetState
    finished_at: datetime | None
    message: str | None
    details: Mapping[str, JsonValue]
    started_at: datetime | None = None
    destroyed_at: datetime | None = None
    dispatch_name: str | None = None
    shadow: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedFile:
    """One synced file as a check found it on the default branch: enough to judge it, not its text."""

    sha256: str
    """Hex SHA-256 of the file's text: a controller-owned file is current when it equals the rendering's."""
    template_version: int | None
    """The version its template marker names (None: no marker): a team-owned file needs the current one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RepositoryCheck:
    """The last read of one target repository's default branch, for the template-status and models panels.

    The operator's leader writes one per repository (and a sync through the API writes the one it
    read); the API only reads them. `error` says why the repository could not be read: then
    `files` is empty and no model id is known.
    """

    owner: str
    repo: str
    branch: str
    checked_at: datetime
    files: Mapping[str, CheckedFile | None]
    """Every synced path: what was found there, or None when the file is not on the branch."""
    implementation_model: str | None = None
    implementation_model_reason: str | None = None
    """Why there is no implementation model id (WORKFLOW.md absent, its front matter broken...)."""
    planning_model: str | None = None
    planning_model_reason: str | None = None
    error: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """(owner, repo, branch): what a mapping's `source` names."""
        return (self.owner, self.repo, self.branch)
