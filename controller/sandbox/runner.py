"""A simulated agent run: what a real runner does once a backend starts it, against the sandboxes.

Attached to the GitHub, Fly and Docker sandboxes, it hears every run they start and plays the
runner's part of the contract (DESIGN.md §6): it obtains its callback tokens (trading the
platform's OIDC token at `/runner/credentials` on GitHub Actions and Fly, reading its environment
in a local container), reports each pipeline step to `/runner/progress`, opens a pull request in
the GitHub sandbox, reports the result to `/runner/result`, and ends its machine, container or
workflow run. A `RunScript` per ticket makes it fail at a step, fall silent, or die without a
result, so tests and `ai-implement dev` can show every ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import httpx

from controller.callbacks.client import CallbackClient
from controller.sandbox.runs import StartedRun

logger = logging.getLogger("controller.sandbox.runner")

PIPELINES: dict[str, tuple[str, ...]] = {
    "planning": ("fetch-ticket", "plan", "post-plan"),
    "implementation": ("checkout", "implement", "test", "open-pull-request"),
    "review": ("checkout", "address-review", "test", "push"),
    "gap-fill": ("checkout", "fill-gaps", "test", "push"),
}
SIMULATED_USAGE: Mapping[str, Any] = {
    "inputTokens": 12_000,
    "outputTokens": 3_400,
    "cacheReadTokens": 48_000,
    "cacheCreationTokens": 6_000,
    "costUsd": 0.4215,
    "model": "claude-sonnet-4-5",
}
DEFAULT_DEADLINE = timedelta(hours=1)
"""How long a run whose launch carried no deadline keeps trying to report."""


class Ending(StrEnum):
    SUCCEED = "succeed"
    FAIL = "fail"
    HANG = "hang"
    """Stop reporting and keep running: the controller's stall timeout has to end it."""
    CRASH = "crash"
    """End the machine without reporting a result."""


@dataclass(frozen=True)
class RunScript:
    ending: Ending = Ending.SUCCEED
    fail_at: str | None = None
    """The step that fails (FAIL) or after which the runner goes silent or dies (HANG, CRASH)."""
    message: str = "the tests failed: 2 of 40 failed"
    step_seconds: float = 0.05
    usage: Mapping[str, Any] | None = field(default_factory=lambda: dict(SIMULATED_USAGE))
    """What the run reports its agent used (None: it reports nothing)."""


@dataclass
class SimulatedRun:
    """What one simulated run did, for assertions."""

    started: StartedRun
    steps: list[tuple[str, str]] = field(default_factory=list)
    credentials_status: int | None = None
    received_environment: dict[str, str] = field(default_factory=dict)
    """What the credentials exchange handed over besides the tokens."""
    result_status: int | None = None
    pull_request_url: str | None = None
    finished: bool = False
    error: str | None = None


class _GitHub(Protocol):
    def open_pull_request(
        self, owner: str, name: str, head: str, base: str, title: str, body: str = "", *, by_app: bool = False
    ) -> dict[str, Any]: ...

    def complete_run(self, run_id: int, conclusion: str = "success") -> Any: ...

    def push_to_pull_request(self, owner: str, name: str, number: int, files: Mapping[str, str]) -> dict[str, Any]: ...


class _Fly(Protocol):
    def exit_machine(self, machine_id: str, exit_code: int = 0) -> Any: ...


class _Docker(Protocol):
    def exit_container(self, ref: str, exit_code: int = 0, *, logs: Any = ()) -> Any: ...


class SandboxRunner:
    def __init__(
        self,
        *,
        github: _GitHub | None = None,
        fly: _Fly | None = None,
        docker: _Docker | None = None,
        default: RunScript | None = None,
    ) -> None:
        self.github = github
        self.fly = fly
        self.docker = docker
        self.default = default or RunScript()
        self.scripts: dict[str, RunScript] = {}
        """Per ticket identifier (ENG-1): how its runs end."""
        self.shadow_exit_code = 0
        """How shadow runs (which report nothing) end."""
        self.runs: list[SimulatedRun] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))

    async def on_run_started(self, started: StartedRun) -> None:
        """The hook the backend sandboxes call; the run plays out in the background."""
        run = SimulatedRun(started=started)
        self.runs.append(run)
        task = asyncio.create_task(self._play(run), name=f"sandbox-run {started.dispatch_name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def runs_of(self, dispatch_name: str) -> list[SimulatedRun]:
        return [run for run in self.runs if run.started.dispatch_name == dispatch_name]

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.aclose()

    async def _play(self, run: SimulatedRun) -> None:
        try:
            await self._play_script(run)
        except Exception as error:  # the simulated runner must never take its sandbox down
            run.error = f"{type(error).__name__}: {error}"
            logger.warning("simulated run of %s broke: %s", run.started.dispatch_name, run.error)
            if not run.finished:
                self._finish(run, 1)  # as a real runner that cannot go on exits non-zero

    async def _play_script(self, run: SimulatedRun) -> None:
        started = run.started
        env = started.environment
        callback = _first(env, "AI_IMPLEMENT_CALLBACK_URL", "callback_base_url", "RUNNER_CALLBACK_BASE_URL")
        issue = _first(env, "AI_IMPLEMENT_ISSUE", "issue_identifier") or ""
        kind = _first(env, "AI_IMPLEMENT_KIND", "kind") or "implementation"
        script = self.scripts.get(issue, self.default)
        if callback is None:
            raise RuntimeError("the run was given no callback URL")
        client = CallbackClient(callback, self._deadline(run), http=self._http)
        tokens = await self._tokens(run, client)
        if tokens is None:
            await asyncio.sleep(script.step_seconds)
            self._finish(run, self.shadow_exit_code)
            return
        progress, result = tokens
        for step in PIPELINES.get(kind, PIPELINES["implementation"]):
            await self._progress(run, client, progress, step, "running")
            await asyncio.sleep(script.step_seconds)
            if step == script.fail_at and script.ending is Ending.HANG:
                return
            if step == script.fail_at and script.ending is Ending.CRASH:
                self._finish(run, 137)
                return
            if step == script.fail_at and script.ending is Ending.FAIL:
                await self._progress(run, client, progress, step, "failed", script.message)
                failed: dict[str, Any] = {"outcome": "failed", "error": {"message": script.message}}
                await self._result(run, client, result, failed | _usage(script))
                self._finish(run, 1)
                return
            await self._progress(run, client, progress, step, "succeeded")
        body: dict[str, Any] = {"outcome": "succeeded"} | _usage(script)
        pull_number = _first(env, "AI_IMPLEMENT_PR_NUMBER", "pull_request_number")
        if kind != "planning" and pull_number is not None:
            pull = self._push_to_pull_request(run, int(pull_number))
            if pull is not None:
                run.pull_request_url = str(pull["html_url"])
                body |= {"pullRequestUrl": pull["html_url"], "pullRequestNumber": pull["number"]}
        elif kind != "planning":
            pull = self._open_pull_request(run, issue)
            if pull is not None:
                run.pull_request_url = str(pull["html_url"])
                body |= {"pullRequestUrl": pull["html_url"], "pullRequestNumber": pull["number"]}
        await self._result(run, client, result, body)
        self._finish(run, 0)

    async def _tokens(self, run: SimulatedRun, client: CallbackClient) -> tuple[str, str] | None:
        """The callback tokens: from the environment (local), or traded for the workload's identity."""
        env = run.started.environment
        if env.get("AI_IMPLEMENT_SHADOW") == "1":
            return None  # a shadow reports nothing: it needs no tokens (and its primary may be over already)
        if "AI_IMPLEMENT_PROGRESS_TOKEN" in env:
            return env["AI_IMPLEMENT_PROGRESS_TOKEN"], env["AI_IMPLEMENT_RESULT_TOKEN"]
        if run.started.identity_token is None:
            raise RuntimeError("the run has neither tokens in its environment nor an identity to trade")
        credentials = await client.credentials(run.started.dispatch_name, run.started.identity_token(client.base_url))
        run.credentials_status = 200
        run.received_environment = dict(credentials.environment)
        if credentials.shadow:
            return None
        return credentials.progress_token, credentials.result_token

    async def _progress(
        self, run: SimulatedRun, client: CallbackClient, token: str, step: str, status: str, message: str | None = None
    ) -> None:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        report: dict[str, Any] = {"name": step, "status": status}
        report["startedAt" if status == "running" else "finishedAt"] = now
        if message:
            report["message"] = message
        await client.progress(token, report)
        run.steps.append((step, status))

    async def _result(self, run: SimulatedRun, client: CallbackClient, token: str, body: Mapping[str, Any]) -> None:
        await client.result(token, body)
        run.result_status = 200

    def _deadline(self, run: SimulatedRun) -> datetime:
        """When the run must have reported by: its deadline as handed over, else an hour from now."""
        env = run.started.environment
        handed = _first(env, "AI_IMPLEMENT_DEADLINE", "deadline")
        if handed:
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(handed.replace("Z", "+00:00"))
        return datetime.now(UTC) + DEFAULT_DEADLINE

    def _open_pull_request(self, run: SimulatedRun, issue: str) -> dict[str, Any] | None:
        env = run.started.environment
        repo = (
            run.started.metadata.get("repository") or run.started.metadata.get("repo") or env.get("AI_IMPLEMENT_REPO")
        )
        if self.github is None or not repo:
            return None
        owner, name = repo.split("/", 1)
        base = env.get("AI_IMPLEMENT_BASE_BRANCH", "main")
        head = f"ai-implement/{issue.lower()}-{run.started.dispatch_name[-12:]}"
        body = f"Changes for {issue}.\n\n<!-- ai-implement:dispatch={run.started.dispatch_name} -->"
        title = f"{issue}: changes by AI-Implement"
        return self.github.open_pull_request(owner, name, head, base, title, body, by_app=True)

    def _push_to_pull_request(self, run: SimulatedRun, number: int) -> dict[str, Any] | None:
        """A review or gap-fill run commits to the pull request it works on."""
        repo = self._repo_of(run)
        if self.github is None or repo is None:
            return None
        owner, name = repo.split("/", 1)
        return self.github.push_to_pull_request(
            owner, name, number, {f"notes/{run.started.dispatch_name}.md": "addressed the review\n"}
        )

    def _repo_of(self, run: SimulatedRun) -> str | None:
        env = run.started.environment
        return (
            run.started.metadata.get("repository") or run.started.metadata.get("repo") or env.get("AI_IMPLEMENT_REPO")
        )

    def _finish(self, run: SimulatedRun, exit_code: int) -> None:
        started = run.started
        run.finished = True
        if started.backend == "github-actions" and self.github is not None:
            self.github.complete_run(int(started.run_id), "success" if exit_code == 0 else "failure")
        elif started.backend == "fly-machines" and self.fly is not None:
            self.fly.exit_machine(started.run_id, exit_code)
        elif started.backend == "local" and self.docker is not None:
            self.docker.exit_container(started.run_id, exit_code)


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        if env.get(name):
            return env[name]
    return None


def _usage(script: RunScript) -> dict[str, Any]:
    return {"usage": dict(script.usage)} if script.usage is not None else {}
