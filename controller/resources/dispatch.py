"""Dispatch: one agent run for one ticket (the "job" of the admin UI)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from controller import constants
from controller.resources.base import CONDITIONS_SCHEMA_EXTRA, Condition, ResourceModel, StatusModel, cel
from controller.resources.project_mapping import TEAM_KEY_PATTERN, TicketingProvider
from controller.resources.step_log import MAX_MESSAGE_CHARS

DispatchKind = Literal["planning", "implementation", "review", "gap-fill"]
RunnerMode = Literal["github-actions", "fly-machines", "local", "shadow"]
DispatchPhase = Literal[
    "Pending", "Starting", "Running", "Succeeded", "Failed", "ReviewFailed", "Cancelled", "TimedOut"
]
TERMINAL_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "ReviewFailed", "Cancelled", "TimedOut"})
STOPPED_BY_THE_CONTROLLER: frozenset[str] = frozenset({"Cancelled", "TimedOut"})
"""Phases the controller writes while the runner may still be saving its work (it reports it after them)."""
StepStatus = Literal["pending", "running", "succeeded", "failed", "skipped"]


class IssueRef(ResourceModel):
    """The ticket this run works on, as the ticketing system names it."""

    provider: TicketingProvider = Field(description="linear or jira.")
    id: str = Field(min_length=1, max_length=128, description="The ticket's stable id in its system.")
    identifier: str = Field(min_length=1, max_length=64, description="The ticket's human identifier, e.g. ENG-123.")
    title: str = Field(default="", max_length=1024, description="The ticket's title when dispatched.")
    url: str = Field(default="", max_length=2048, description="Link to the ticket.")


class PullRequestRef(ResourceModel):
    """A pull request the run reviews or completes."""

    number: int = Field(ge=1, description="The pull request number in the target repository.")
    url: str = Field(default="", max_length=2048, description="Link to the pull request.")
    head_branch: str | None = Field(default=None, max_length=255, description="The pull request's branch.")


class DispatchSpec(ResourceModel):
    """What to run; immutable once created, so that a retry can never change a started run."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("self == oldSelf", "Dispatch spec is immutable; create a new Dispatch instead"),
                cel(
                    "!(self.kind == 'review' || self.kind == 'gap-fill') || has(self.pullRequest)",
                    "pullRequest is required for review and gap-fill dispatches",
                ),
            ]
        }
    )

    mapping: str = Field(pattern=TEAM_KEY_PATTERN, max_length=32, description="Team key of the ProjectMapping.")
    issue: IssueRef = Field(description="The ticket.")
    kind: DispatchKind = Field(description="planning, implementation, review or gap-fill.")
    iteration: int = Field(default=1, ge=1, le=1000, description="The dispatch number for this ticket and kind.")
    runner_mode: RunnerMode = Field(description="The runner mode resolved when the Dispatch was created.")
    session_image: str | None = Field(
        default=None, max_length=512, description="The session image resolved when the Dispatch was created."
    )
    pull_request: PullRequestRef | None = Field(
        default=None, description="The pull request, for review and gap-fill runs."
    )


class RunnerRef(StatusModel):
    """Where the run lives on its backend."""

    backend: str = Field(max_length=32, description="github-actions, fly-machines or local.")
    id: str | None = Field(default=None, max_length=256, description="Run, machine or container id.")
    url: str | None = Field(default=None, max_length=2048, description="Link to the run, when it has one.")
    image: str | None = Field(default=None, max_length=512, description="The session image the run was started with.")


class Step(StatusModel):
    """One pipeline step as reported by the runner's progress callbacks."""

    name: str = Field(max_length=128, description="The step's module id.")
    status: StepStatus = Field(description="pending, running, succeeded, failed or skipped.")
    started_at: datetime | None = Field(default=None, description="When the step started.")
    finished_at: datetime | None = Field(default=None, description="When the step finished.")
    elapsed_seconds: float | None = Field(default=None, ge=0, description="How long the step took so far.")
    message: str | None = Field(
        default=None,
        max_length=4096,
        description=f"The step's last output line; callbacks keep {MAX_MESSAGE_CHARS} characters (with a marker).",
    )
    output: dict[str, Any] | None = Field(
        default=None,
        description="Structured output the step reported; beyond 4 KiB as JSON, a truncated preview.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


class DispatchError(StatusModel):
    """Why a run did not succeed."""

    reason: str = Field(max_length=128, description="A CamelCase word, e.g. TimedOut or RunnerFailed.")
    message: str = Field(default="", max_length=8192, description="What failed and where.")


class PullRequestStatus(StatusModel):
    """The pull request the run opened or updated."""

    url: str = Field(max_length=2048, description="Link to the pull request.")
    number: int | None = Field(default=None, ge=1, description="Its number.")


RunOutcome = Literal["succeeded", "failed"]


MAX_SUMMARY_CHARS = 16_384
"""A run's summary (a planning run's plan) as the Dispatch keeps it; the runner cuts longer ones."""
MAX_TOKENS = 10**12
MAX_COST_USD = 10**6


class RunUsage(StatusModel):
    """What the coding agent used in one run, as it reported it: tokens by kind, and their cost."""

    input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, description="Input tokens, not cached.")
    output_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, description="Output tokens.")
    cache_read_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, description="Input tokens read from the cache.")
    cache_creation_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, description="Input tokens written to the cache.")
    cost_usd: float = Field(default=0.0, ge=0, le=MAX_COST_USD, description="What the agent reported it cost, in USD.")
    model: str | None = Field(default=None, max_length=128, description="The model that did most of the work.")


class RunnerResult(StatusModel):
    """What the runner reported through POST /runner/result; the reconciler turns it into a phase."""

    outcome: RunOutcome = Field(description="succeeded or failed.")
    pull_request_url: str | None = Field(default=None, max_length=2048, description="The PR the run opened.")
    pull_request_number: int | None = Field(default=None, ge=1, description="Its number.")
    error: DispatchError | None = Field(default=None, description="What failed and where, for a failed run.")
    usage: RunUsage | None = Field(default=None, description="Tokens and cost the agent reported.")
    summary: str | None = Field(
        default=None,
        max_length=MAX_SUMMARY_CHARS,
        description="What the run produced, in Markdown: a planning run's plan, which the ticket gets as a comment.",
    )
    work_in_progress_branch: str | None = Field(
        default=None,
        max_length=255,
        description="The branch a stopped run saved its unfinished work to (ai-implement/wip/<dispatch>).",
    )
    reported_at: datetime = Field(description="When the result arrived.")


class DispatchStatus(StatusModel):
    """Observed state of a run."""

    phase: DispatchPhase | None = Field(default=None, description="Where the run is in its life.")
    observed_generation: int | None = Field(default=None, description="The spec generation last reconciled.")
    runner: RunnerRef | None = Field(default=None, description="The backend resource running it.")
    steps: list[Step] = Field(
        default_factory=list,
        max_length=200,  # what releases before the bounded step log accepted; callbacks now keep MAX_STEPS
        description="Pipeline steps reported so far.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    steps_omitted: int | None = Field(
        default=None, ge=0, description="Older finished steps let go to keep the status small (at most 64 are kept)."
    )
    shadow: RunnerRef | None = Field(default=None, description="The shadow Fly run, in shadow mode.")
    result: RunnerResult | None = Field(default=None, description="The result the runner reported.")
    pull_request: PullRequestStatus | None = Field(default=None, description="The resulting pull request.")
    error: DispatchError | None = Field(default=None, description="Why the run failed, when it did.")
    ticket_status_before: str | None = Field(
        default=None, max_length=256, description="The ticket's status before the run marked it in progress."
    )
    started_at: datetime | None = Field(default=None, description="When the run was started on its backend.")
    deadline_at: datetime | None = Field(default=None, description="When the run times out (maxJobMinutes).")
    last_progress_at: datetime | None = Field(default=None, description="The latest progress callback.")
    runner_ended_at: datetime | None = Field(
        default=None, description="When the run's machine, container or workflow run was first seen ended."
    )
    finished_at: datetime | None = Field(default=None, description="When the run reached a terminal phase.")
    notified_at: datetime | None = Field(default=None, description="When people were told how the run ended.")
    closed_at: datetime | None = Field(
        default=None, description="When every effect of the terminal phase (ticket, log, session) was done."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Conditions of the run.",
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
    )


def is_terminal(phase: str | None) -> bool:
    """Whether nothing more will happen to a run in this phase."""
    return phase in TERMINAL_PHASES


def dispatch_name_for(issue_identifier: str, kind: str, iteration: int) -> str:
    """The deterministic resource name that makes creating the same Dispatch twice harmless."""
    safe_identifier = "".join(c if c.isalnum() else "-" for c in issue_identifier.lower()).strip("-")
    return f"{safe_identifier}-{kind}-{iteration}"


_LOG_STATUS_TO_PHASE = {
    "pending": "Pending",
    "starting": "Starting",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "review-failed": "ReviewFailed",
    "cancelled": "Cancelled",
    "timed-out": "TimedOut",
}


def log_status_of_phase(phase: str) -> str:
    """The dispatch log's word for a phase: `ReviewFailed` is logged as `review-failed`."""
    for status, known in _LOG_STATUS_TO_PHASE.items():
        if known == phase:
            return status
    return phase.lower()


def phase_of_log_status(status: str) -> str:
    return _LOG_STATUS_TO_PHASE.get(status, status)


def pull_request_dispatch(
    *,
    namespace: str,
    mapping_name: str,
    mapping_uid: str,
    issue: IssueRef,
    team_key: str,
    kind: DispatchKind,
    iteration: int,
    runner_mode: str,
    session_image: str,
    pull_request: PullRequestRef,
    label: Callable[[str], str],
) -> dict[str, Any]:
    """A review or gap-fill Dispatch on a pull request, owned by its mapping and named like every Dispatch."""
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.DISPATCH_KIND,
        "metadata": {
            "name": dispatch_name_for(issue.identifier, kind, iteration),
            "namespace": namespace,
            "finalizers": [constants.FINALIZER],  # kopf's, set at birth: one write less per run
            "labels": {
                constants.LABEL_TEAM: label(team_key),
                constants.LABEL_ISSUE: label(issue.identifier),
                constants.LABEL_KIND: kind,
            },
            "ownerReferences": [
                {
                    "apiVersion": constants.API_VERSION,
                    "kind": constants.PROJECT_MAPPING_KIND,
                    "name": mapping_name,
                    "uid": mapping_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "mapping": team_key,
            "issue": issue.model_dump(by_alias=True),
            "kind": kind,
            "iteration": iteration,
            "runnerMode": runner_mode,
            "sessionImage": session_image,
            "pullRequest": pull_request.model_dump(by_alias=True, exclude_none=True),
        },
    }


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]")
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]")


def printable(text: str, limit: int) -> str:
    """Ticket text as a resource can carry it: no control characters, bounded length."""
    return _UNPRINTABLE.sub(" ", text)[:limit]


def label_value(text: str) -> str:
    cleaned = _LABEL_VALUE.sub("-", text)[:63].strip("-._")
    return cleaned or "unknown"
