"""The closed sets of words the store accepts, shared by the column CHECK constraints and the API types."""

from enum import StrEnum
from typing import Final, Literal, TypeAlias, get_args

TicketingProvider: TypeAlias = Literal["linear", "jira"]
DispatchKind: TypeAlias = Literal["planning", "implementation", "review", "gap-fill"]
RunnerTokenPurpose: TypeAlias = Literal["progress", "result"]
ReaperRule: TypeAlias = Literal["orphan", "stale-terminal-job", "max-age-exceeded", "issue-terminal"]
ReaperBackend: TypeAlias = Literal["fly", "github-actions", "local"]
ReaperOutcome: TypeAlias = Literal["dry-run", "destroyed", "failed"]
PullRequestState: TypeAlias = Literal["open", "merged", "closed"]
PullRequestJobStatus: TypeAlias = Literal["running", "completed", "failed", "review_failed"]
FeedbackKind: TypeAlias = Literal["review", "review-comment", "comment"]
SessionBackend: TypeAlias = Literal["github-actions", "fly-machines", "local"]
SessionResetState: TypeAlias = Literal["pending", "reset", "already-destroyed", "failed"]

TICKETING_PROVIDERS: Final[tuple[TicketingProvider, ...]] = get_args(TicketingProvider)
DISPATCH_KINDS: Final[tuple[DispatchKind, ...]] = get_args(DispatchKind)
RUNNER_TOKEN_PURPOSES: Final[tuple[RunnerTokenPurpose, ...]] = get_args(RunnerTokenPurpose)
REAPER_RULES: Final[tuple[ReaperRule, ...]] = get_args(ReaperRule)
REAPER_BACKENDS: Final[tuple[ReaperBackend, ...]] = get_args(ReaperBackend)
REAPER_OUTCOMES: Final[tuple[ReaperOutcome, ...]] = get_args(ReaperOutcome)
PULL_REQUEST_STATES: Final[tuple[PullRequestState, ...]] = get_args(PullRequestState)
PULL_REQUEST_JOB_STATUSES: Final[tuple[PullRequestJobStatus, ...]] = get_args(PullRequestJobStatus)
FEEDBACK_KINDS: Final[tuple[FeedbackKind, ...]] = get_args(FeedbackKind)
SESSION_BACKENDS: Final[tuple[SessionBackend, ...]] = get_args(SessionBackend)
SESSION_RESET_STATES: Final[tuple[SessionResetState, ...]] = get_args(SessionResetState)

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None


class DecisionReason(StrEnum):
    """Why a ticket was not dispatched; the blocking ones are stored with the inbox rows."""

    CONCURRENCY_CAP = "concurrency-cap"
    DEDUP_WINDOW = "dedup-window"
    PAUSED = "paused"
    PLANNING_PENDING = "planning-pending"
    MISSING_CREDENTIALS = "missing-credentials"
    IN_PROGRESS = "in-progress"
    TERMINAL = "terminal"
    IMPLEMENTED = "implemented"
