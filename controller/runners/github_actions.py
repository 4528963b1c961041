"""The GitHub Actions runner backend: one `workflow_dispatch` run of the synced workflow per dispatch.

A run is started by dispatching `ai-implement.yml` on the repository's default branch with the
dispatch's facts as string inputs and its non-secret settings as one JSON input
(`workflow_inputs`). The synced workflow sets
`run-name: ${{ inputs.dispatch }} in ${{ inputs.namespace }}`, so every run shows its dispatch name
and namespace as `display_title`: that is how `find` recognises the run of a dispatch, how a legacy
204 answer (no run id) is correlated, and how the reaper's `list_live` tells whose run it is (and
that a run of another controller's namespace is not this one's to judge).

Dispatching is not idempotent (EXTERNAL_APIS.md §3.3), so `start` always looks first, and after an
answer lost on the way back it looks again before giving up: a retried dispatch would start a
second run. Inputs are readable by anyone who can read the repository's Actions, so they never
carry a secret: runs obtain credentials through the workload-identity exchange.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, Final, Protocol

from controller.clock import Clock, utc_now
from controller.github import (
    GitHubError,
    GitHubNotFound,
    GitHubUnavailable,
    Installation,
    WorkflowDispatch,
    WorkflowRun,
)
from controller.runners.backend import (
    METADATA_DISPATCH,
    METADATA_NAMESPACE,
    METADATA_REPO,
    BackendName,
    RepoRef,
    RunHandle,
    RunLaunch,
    SessionState,
)
from controller.workflows import RUNNER_WORKFLOW_INPUTS, RUNNER_WORKFLOW_PATH

logger = logging.getLogger("controller.runners.github_actions")

WORKFLOW_FILE: Final = RUNNER_WORKFLOW_PATH.removeprefix(".github/workflows/")
DISPATCH_INPUT: Final = "dispatch"
WORKFLOW_INPUTS: Final = RUNNER_WORKFLOW_INPUTS
"""The inputs the synced workflow declares (GitHub refuses undeclared ones with 422), from its template.

`environment` carries the run's non-secret settings (`launch.environment`) as one JSON object,
which the workflow exports before running the pipeline.
"""
ENVIRONMENT_INPUT: Final = "environment"
LIVE_RUN_STATUSES: Final = ("queued", "in_progress")
"""What the reaper lists: runs waiting for a runner and runs on one."""
DEFAULT_LOOKBACK: Final = timedelta(days=3)
"""How far back `find` lists runs: longer than a job may last on GitHub-hosted runners (6 h)."""
ENVIRONMENT_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SECRET_LOOKING_NAME: Final = re.compile(r"TOKEN|SECRET|PASSW|PRIVATE|API_?KEY|CREDENTIAL|AUTH", re.IGNORECASE)
MIN_SECRET_CHARS: Final = 8
"""Secret values shorter than this are not searched for in inputs: they would match by accident."""
DISPATCH_NAME: Final = re.compile(r"[a-z0-9][-a-z0-9.]*-[a-z0-9]+")
_TITLE_WITH_NAMESPACE: Final = re.compile(r"(?P<dispatch>\S+) in (?P<namespace>[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)")
"""A Kubernetes object name with at least one hyphen: dispatch names are `<identifier>-<kind>-<iteration>`."""

CLOCK_SKEW: Final = timedelta(minutes=2)
"""How much earlier than its Dispatch a run may look created: GitHub's clock is not the API server's."""


def foreign_run_reason(
    run: WorkflowRun, default_branch: str, app_bot: str | None, not_before: datetime | None
) -> str | None:
    """Why a run named like a dispatch is still not ours to adopt, or None when it is (pure).

    Anyone who can push can start the workflow by hand, or from another workflow, with a run name
    that copies a dispatch's: only a run the App started on the default branch, after the
    Dispatch was created, is the one the controller dispatched.
    """
    if run.event != "workflow_dispatch":
        return f"it was started by a {run.event or 'unknown'} event"
    if run.head_branch != default_branch:
        return f"it runs on {run.head_branch!r}, not on the default branch {default_branch!r}"
    actor = run.actor
    if actor is None or actor.type != "Bot" or (app_bot is not None and actor.login.lower() != app_bot.lower()):
        return f"it was started by {actor.login if actor else 'someone unknown'}, not by the App"
    if not_before is not None and run.created_at is not None and run.created_at < not_before - CLOCK_SKEW:
        return "it was created before its Dispatch"
    return None


_STATES: Final[Mapping[str, SessionState]] = {
    "requested": "created",
    "pending": "created",
    "waiting": "created",
    "queued": "starting",
    "in_progress": "started",
    "completed": "stopped",
}


class ActionsApi(Protocol):
    """The calls of `controller.github.GitHubClient` this backend makes."""

    async def dispatch_workflow(
        self, owner: str, repo: str, workflow: str, *, ref: str, inputs: Mapping[str, str]
    ) -> WorkflowDispatch | None: ...

    async def list_workflow_runs(
        self,
        owner: str,
        repo: str,
        workflow: str,
        *,
        event: str | None = None,
        status: str | None = None,
        branch: str | None = None,
        created_since: datetime | None = None,
    ) -> list[WorkflowRun]: ...

    async def get_workflow_run(self, owner: str, repo: str, run_id: int) -> WorkflowRun: ...

    async def installation(self, owner: str, repo: str) -> Installation: ...

    async def cancel_workflow_run(self, owner: str, repo: str, run_id: int) -> bool: ...


class DispatchedRunNotListed(GitHubError):
    """GitHub accepted a dispatch without naming the run, and no run with the dispatch name was listed yet.

    Temporary: the next `start` lists again before dispatching, and adopts the run once it shows.
    """

    temporary: ClassVar[bool] = True


@dataclass(frozen=True)
class WorkflowInputs:
    """The inputs of one dispatch, and the environment entries left out, by name, with the reason."""

    inputs: dict[str, str]
    left_out: dict[str, str] = field(default_factory=dict)


def workflow_inputs(launch: RunLaunch) -> WorkflowInputs:
    """The dispatch's facts as string inputs, and its settings as one JSON input; never a secret.

    An environment entry is left out when its name is not an environment variable's, looks like a
    credential, or holds the value of one of `launch.secrets`; a fixed input holding a secret's
    value is refused outright.
    """
    secret_values = [value for value in launch.secrets.values() if len(value) >= MIN_SECRET_CHARS]
    inputs = _fixed_inputs(launch)
    for name, value in inputs.items():
        if _holds_secret(value, secret_values):
            raise ValueError(f"the workflow input {name!r} of {launch.dispatch_name} holds a secret's value")
    settings: dict[str, str] = {}
    left_out: dict[str, str] = {}
    for name in sorted(launch.environment):
        value = launch.environment[name]
        reason = _reason_to_leave_out(name, value, secret_values)
        if reason is None:
            settings[name] = value
        else:
            left_out[name] = reason
    inputs[ENVIRONMENT_INPUT] = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return WorkflowInputs(inputs, left_out)


def _fixed_inputs(launch: RunLaunch) -> dict[str, str]:
    inputs = {
        DISPATCH_INPUT: launch.dispatch_name,
        "namespace": launch.namespace,
        "issue_identifier": launch.issue_identifier,
        "issue_id": launch.issue_id,
        "issue_provider": launch.issue_provider,
        "issue_url": launch.issue_url,
        "kind": launch.kind,
        "iteration": str(launch.iteration),
        "pipeline": launch.pipeline,
        "callback_base_url": launch.callback_base_url,
    }
    if launch.pull_request_number is not None:
        inputs["pull_request_number"] = str(launch.pull_request_number)
    if launch.pull_request_branch:
        inputs["pull_request_branch"] = launch.pull_request_branch
    return inputs


def _reason_to_leave_out(name: str, value: str, secret_values: Sequence[str]) -> str | None:
    if not ENVIRONMENT_NAME.fullmatch(name):
        return "not an environment variable name"
    if SECRET_LOOKING_NAME.search(name):
        return "its name looks like a credential's"
    if _holds_secret(value, secret_values):
        return "its value is a secret's"
    return None


def _holds_secret(value: str, secret_values: Sequence[str]) -> bool:
    return any(secret in value for secret in secret_values)


def names_dispatch(display_title: str, dispatch_name: str) -> bool:
    """Whether a run's title names the dispatch as a whole word (`…-1` is not `…-10`)."""
    pattern = rf"(?<![\w.-]){re.escape(dispatch_name)}(?![\w.-])"
    return re.search(pattern, display_title) is not None


@dataclass(frozen=True, slots=True)
class RunTitle:
    """What a run's title says about whose run it is: `<dispatch> in <namespace>` since template v2."""

    dispatch: str | None
    namespace: str | None = None


def read_run_title(display_title: str) -> RunTitle:
    """`eng-42-implementation-1 in ai-implement`; older titles name only the dispatch (whole, or last word)."""
    found = _TITLE_WITH_NAMESPACE.fullmatch(display_title.strip())
    if found and DISPATCH_NAME.fullmatch(found["dispatch"]) and len(found["dispatch"]) <= 253:
        return RunTitle(found["dispatch"], found["namespace"])
    words = display_title.split()
    for candidate in (display_title.strip(), words[-1] if words else ""):
        if DISPATCH_NAME.fullmatch(candidate) and len(candidate) <= 253:
            return RunTitle(candidate)
    return RunTitle(None)


def dispatch_name_in(display_title: str) -> str | None:
    """The dispatch name a run's title shows."""
    return read_run_title(display_title).dispatch


def session_state(run: WorkflowRun) -> SessionState:
    return _STATES.get(run.status or "", "unknown")


def run_resource_id(owner: str, repo: str, run_id: int) -> str:
    return f"{owner}/{repo}/{run_id}"


def parse_run_resource_id(resource_id: str) -> tuple[str, str, int]:
    owner, _, rest = resource_id.partition("/")
    repo, _, run_id = rest.partition("/")
    if not owner or not repo or not run_id.isdigit():
        raise ValueError(f"{resource_id!r} is not a workflow run id of the form owner/repo/run_id")
    return owner, repo, int(run_id)


def run_handle(owner: str, repo: str, run: WorkflowRun, *, metadata: Mapping[str, str] | None = None) -> RunHandle:
    """A run as a session: `backend_state` is GitHub's status, or its conclusion once completed."""
    completed = run.status == "completed"
    title = read_run_title(run.display_title)
    dispatch = title.dispatch
    entries = {METADATA_REPO: f"{owner}/{repo}"}
    if dispatch:
        entries[METADATA_DISPATCH] = dispatch
    if title.namespace:
        entries[METADATA_NAMESPACE] = title.namespace
    return RunHandle(
        backend="github-actions",
        id=run_resource_id(owner, repo, run.id),
        name=dispatch or run.display_title,
        state=session_state(run),
        backend_state=(run.conclusion or "unknown") if completed else (run.status or "unknown"),
        created_at=run.created_at,
        url=run.html_url or None,
        metadata={**entries, **(metadata or {})},
        exit_code=(0 if run.conclusion == "success" else 1) if completed else None,
    )


class GitHubActionsBackend:
    """Runs on GitHub Actions through the App's installation on each target repository."""

    name: BackendName = "github-actions"

    def __init__(
        self,
        github: ActionsApi,
        *,
        workflow: str = WORKFLOW_FILE,
        lookback: timedelta = DEFAULT_LOOKBACK,
        correlation_attempts: int = 5,
        correlation_delay: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock = utc_now,
    ) -> None:
        """`correlation_*`: how often, and how many seconds apart, a run without an id is looked for."""
        if correlation_attempts < 1:
            raise ValueError(f"correlation_attempts={correlation_attempts} must be at least 1")
        self._github = github
        self.workflow = workflow
        self._lookback = lookback
        self._correlation_attempts = correlation_attempts
        self._correlation_delay = correlation_delay
        self._sleep = sleep
        self._clock = clock

    async def start(self, launch: RunLaunch) -> RunHandle:
        found = await self.find(launch) if launch.earlier_attempt else None
        if found is not None:
            return found
        repo = launch.repo
        try:
            dispatched = await self._github.dispatch_workflow(
                repo.owner, repo.name, self.workflow, ref=repo.default_branch, inputs=self._inputs(launch)
            )
        except GitHubUnavailable:
            adopted = await self._find_after_lost_answer(launch)
            if adopted is None:
                raise
            return adopted
        if dispatched is None:
            return await self._correlate(launch)
        return self._dispatched_handle(launch, dispatched)

    async def find(self, launch: RunLaunch) -> RunHandle | None:
        """The newest run of the workflow whose title names the dispatch, within the lookback window,
        that the App started on the default branch after the Dispatch was created."""
        repo = launch.repo
        runs = await self._github.list_workflow_runs(
            repo.owner,
            repo.name,
            self.workflow,
            event="workflow_dispatch",
            created_since=self._clock() - self._lookback,
        )
        app_bot: str | None = None
        for run in runs:
            namespace = read_run_title(run.display_title).namespace
            if not names_dispatch(run.display_title, launch.dispatch_name) or namespace not in (None, launch.namespace):
                continue
            if app_bot is None:
                app_bot = await self._app_bot(repo)
            refused = foreign_run_reason(run, repo.default_branch, app_bot or None, launch.created_at)
            if refused is not None:
                logger.warning(
                    "not adopting workflow run %s of %s for %s: %s",
                    run.id,
                    repo.full_name,
                    launch.dispatch_name,
                    refused,
                )
                continue
            return run_handle(repo.owner, repo.name, run, metadata=launch.metadata())
        return None

    async def _app_bot(self, repo: RepoRef) -> str:
        """The App's bot account on the repository's installation ("" when GitHub did not name it)."""
        slug = (await self._github.installation(repo.owner, repo.name)).app_slug
        return f"{slug}[bot]" if slug else ""

    async def status(self, resource_id: str) -> RunHandle | None:
        owner, repo, run_id = parse_run_resource_id(resource_id)
        try:
            run = await self._github.get_workflow_run(owner, repo, run_id)
        except GitHubNotFound:
            return None
        return run_handle(owner, repo, run)

    async def destroy(self, resource_id: str) -> None:
        """Cancel the run; a run already finished (409) or gone (404) counts as destroyed."""
        owner, repo, run_id = parse_run_resource_id(resource_id)
        try:
            await self._github.cancel_workflow_run(owner, repo, run_id)
        except GitHubNotFound:
            return

    async def list_live(self, repos: Sequence[RepoRef] = ()) -> list[RunHandle]:
        """Queued and running runs of the workflow in `repos`; a run that changes list midway counts once.

        A repository without the workflow has no runs of ours; any other failure fails the listing.
        """
        handles: dict[str, RunHandle] = {}
        for repo in repos:
            for status in LIVE_RUN_STATUSES:
                try:
                    runs = await self._github.list_workflow_runs(repo.owner, repo.name, self.workflow, status=status)
                except GitHubNotFound:
                    break  # the workflow is not synced there (or the App lost the repository): no runs of ours
                for run in runs:
                    handle = run_handle(repo.owner, repo.name, run)
                    handles.setdefault(handle.id, handle)
        return list(handles.values())

    def _inputs(self, launch: RunLaunch) -> dict[str, str]:
        decided = workflow_inputs(launch)
        if decided.left_out:
            logger.warning(
                "%s: environment entries left out of the workflow inputs: %s",
                launch.dispatch_name,
                "; ".join(f"{name} ({reason})" for name, reason in decided.left_out.items()),
                extra={"dispatch": launch.dispatch_name, "left_out_inputs": sorted(decided.left_out)},
            )
        return decided.inputs

    def _dispatched_handle(self, launch: RunLaunch, dispatched: WorkflowDispatch) -> RunHandle:
        """The run GitHub just named, without another call: it was requested a moment ago."""
        repo = launch.repo
        return RunHandle(
            backend=self.name,
            id=run_resource_id(repo.owner, repo.name, dispatched.workflow_run_id),
            name=launch.dispatch_name,
            state="created",
            backend_state="requested",
            url=dispatched.html_url or None,
            metadata=launch.metadata(),
        )

    async def _correlate(self, launch: RunLaunch) -> RunHandle:
        """After a 204: list until the run with the dispatch name shows, a few times, a little apart."""
        for attempt in range(self._correlation_attempts):
            if attempt:
                await self._sleep(self._correlation_delay)
            found = await self.find(launch)
            if found is not None:
                return found
        raise DispatchedRunNotListed(
            f"GitHub accepted the dispatch of {launch.dispatch_name} to {launch.repo.full_name} "
            f"({self.workflow}) without naming its run, and listed none with that name after "
            f"{self._correlation_attempts} looks; the next start looks again before dispatching"
        )

    async def _find_after_lost_answer(self, launch: RunLaunch) -> RunHandle | None:
        """Whether a dispatch whose answer was lost started a run anyway; None when not, or unknowable."""
        try:
            return await self._correlate(launch)
        except GitHubError:
            return None
