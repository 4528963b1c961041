"""What one run is asked to do, read from its environment: the same variables on every backend.

The controller composes them (`controller.operator.runs.launch`): a local container and a Fly
Machine get them as environment variables, a GitHub Actions run as the workflow's `environment`
input, which the synced workflow exports before it calls `ai-implement-runner`. Everything wrong is
reported at once, each variable by name, before the run touches anything.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from controller.pipelines import KINDS

DEFAULT_AGENT_COMMAND: Final = ("claude",)
DEFAULT_MAX_JOB_MINUTES: Final = 90
DEFAULT_STOP_GRACE_SECONDS: Final = 30.0
"""How long the runner takes to save work in progress once it is told to stop."""
DEFAULT_HEARTBEAT_SECONDS: Final = 20.0
"""How often a run says it is alive while a step works: well inside RUNNER_PROGRESS_TIMEOUT_MINUTES."""


class JobError(ValueError):
    """The run's environment does not describe a run; the message names every variable at fault."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunJob:
    dispatch: str
    namespace: str
    kind: str
    iteration: int
    issue_identifier: str
    issue_id: str
    issue_provider: str
    owner: str
    repo: str
    base_branch: str
    callback_url: str
    deadline: datetime
    pull_request_number: int | None
    pull_request_branch: str | None
    model_provider: str
    aws_region: str | None
    max_turns: int
    max_iterations: int
    max_job_minutes: int
    shadow: bool
    progress_token: str | None
    result_token: str | None
    agent_command: tuple[str, ...]
    custom_dir: Path | None
    workdir: Path | None
    stop_grace_seconds: float
    heartbeat_seconds: float

    @property
    def full_repo(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def work_in_progress_branch(self) -> str:
        return f"ai-implement/wip/{self.dispatch}"

    def stop_at(self, started: datetime) -> datetime:
        """When the runner stops working to save what it has: before maxJobMinutes and the deadline run out."""
        limit = min(self.deadline, started + timedelta(minutes=self.max_job_minutes))
        return limit - timedelta(seconds=self.stop_grace_seconds)


def read_job(environment: Mapping[str, str] | None = None) -> RunJob:
    """The run described by `environment` (the process's by default); JobError names every fault."""
    env = os.environ if environment is None else environment
    problems: list[str] = []
    reader = _Reader(env, problems)
    dispatch = reader.required("AI_IMPLEMENT_DISPATCH")
    kind = reader.required("AI_IMPLEMENT_KIND")
    if kind and kind not in KINDS:
        problems.append(f"AI_IMPLEMENT_KIND={kind!r} is not one of {', '.join(KINDS)}")
    full_repo = reader.required("AI_IMPLEMENT_REPO")
    owner, _, repo = full_repo.partition("/")
    if full_repo and (not owner or not repo or "/" in repo):
        problems.append(f"AI_IMPLEMENT_REPO={full_repo!r} must be owner/name")
    callback = reader.required("AI_IMPLEMENT_CALLBACK_URL").rstrip("/")
    if callback and not callback.startswith(("http://", "https://")):
        problems.append(f"AI_IMPLEMENT_CALLBACK_URL={callback!r} must be an http(s) URL")
    pull_number = reader.integer("AI_IMPLEMENT_PR_NUMBER", None, minimum=1)
    if kind in ("review", "gap-fill") and pull_number is None:
        problems.append(f"AI_IMPLEMENT_PR_NUMBER is required for a {kind} run")
    progress, result = env.get("AI_IMPLEMENT_PROGRESS_TOKEN") or None, env.get("AI_IMPLEMENT_RESULT_TOKEN") or None
    if (progress is None) != (result is None):
        problems.append("AI_IMPLEMENT_PROGRESS_TOKEN and AI_IMPLEMENT_RESULT_TOKEN come together, or neither is set")
    agent_command = _command(env.get("AI_IMPLEMENT_AGENT_COMMAND"), problems)
    job = RunJob(
        dispatch=dispatch,
        namespace=env.get("AI_IMPLEMENT_NAMESPACE", ""),
        kind=kind,
        iteration=reader.integer("AI_IMPLEMENT_ITERATION", 1, minimum=1) or 1,
        issue_identifier=reader.required("AI_IMPLEMENT_ISSUE"),
        issue_id=env.get("AI_IMPLEMENT_ISSUE_ID", ""),
        issue_provider=env.get("AI_IMPLEMENT_ISSUE_PROVIDER", ""),
        owner=owner,
        repo=repo,
        base_branch=env.get("AI_IMPLEMENT_BASE_BRANCH") or "main",
        callback_url=callback,
        deadline=reader.moment("AI_IMPLEMENT_DEADLINE"),
        pull_request_number=pull_number,
        pull_request_branch=env.get("AI_IMPLEMENT_PR_BRANCH") or None,
        model_provider=env.get("AI_IMPLEMENT_PROVIDER") or "anthropic",
        aws_region=env.get("AI_IMPLEMENT_AWS_REGION") or env.get("AWS_REGION") or None,
        max_turns=reader.integer("AI_IMPLEMENT_MAX_TURNS", 50, minimum=1) or 50,
        max_iterations=reader.integer("AI_IMPLEMENT_MAX_ITERATIONS", 3, minimum=1) or 3,
        max_job_minutes=reader.integer("AI_IMPLEMENT_MAX_JOB_MINUTES", DEFAULT_MAX_JOB_MINUTES, minimum=1)
        or DEFAULT_MAX_JOB_MINUTES,
        shadow=env.get("AI_IMPLEMENT_SHADOW") == "1",
        progress_token=progress,
        result_token=result,
        agent_command=agent_command,
        custom_dir=Path(env["AI_IMPLEMENT_CUSTOM_DIR"]) if env.get("AI_IMPLEMENT_CUSTOM_DIR") else None,
        workdir=Path(env["AI_IMPLEMENT_WORKDIR"]) if env.get("AI_IMPLEMENT_WORKDIR") else None,
        stop_grace_seconds=reader.number("AI_IMPLEMENT_STOP_GRACE_SECONDS", DEFAULT_STOP_GRACE_SECONDS),
        heartbeat_seconds=max(reader.number("AI_IMPLEMENT_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS), 1.0),
    )
    if problems:
        raise JobError("the run's environment is not usable: " + "; ".join(problems))
    return job


class _Reader:
    def __init__(self, env: Mapping[str, str], problems: list[str]) -> None:
        self._env = env
        self._problems = problems

    def required(self, name: str) -> str:
        value = self._env.get(name, "").strip()
        if not value:
            self._problems.append(f"{name} is not set")
        return value

    def integer(self, name: str, default: int | None, *, minimum: int) -> int | None:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self._problems.append(f"{name}={raw!r} is not a whole number")
            return default
        if value < minimum:
            self._problems.append(f"{name}={value} must be at least {minimum}")
            return default
        return value

    def number(self, name: str, default: float) -> float:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            self._problems.append(f"{name}={raw!r} is not a number")
            return default
        if value < 0:
            self._problems.append(f"{name}={raw!r} must not be negative")
            return default
        return value

    def moment(self, name: str) -> datetime:
        raw = self.required(name)
        fallback = datetime.now(UTC) + timedelta(hours=1)
        if not raw:
            return fallback
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            self._problems.append(f"{name}={raw!r} is not an ISO 8601 time")
            return fallback
        if moment.tzinfo is None:
            self._problems.append(f"{name}={raw!r} has no time zone")
            return fallback
        return moment


def _command(raw: str | None, problems: list[str]) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return DEFAULT_AGENT_COMMAND
    try:
        parts = tuple(shlex.split(raw))
    except ValueError as error:
        problems.append(f"AI_IMPLEMENT_AGENT_COMMAND={raw!r} cannot be split into words: {error}")
        return DEFAULT_AGENT_COMMAND
    return parts or DEFAULT_AGENT_COMMAND
