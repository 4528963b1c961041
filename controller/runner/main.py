"""`ai-implement-runner` (also `ai-implement runner`): the program inside every session.

It reads the run from its environment (`controller.runner.job`), proves who it is to the controller
and receives its callback tokens and its GitHub token (`/runner/credentials`), runs the pipeline of
its kind (`controller.pipelines`, custom first), reports every step to `/runner/progress` and the
outcome to `/runner/result`, and exits 0 only when the run succeeded and the controller has its
result. It behaves the same on GitHub Actions, Fly Machines and local Docker.

Stopping: on SIGTERM or SIGINT (a cancelled workflow, a destroyed machine or container, the reaper),
or when `maxJobMinutes` or the run's deadline is about to pass, the step running is stopped (the
agent gets its grace), what the agent has done so far is committed and pushed to
`ai-implement/wip/<dispatch>` within `AI_IMPLEMENT_STOP_GRACE_SECONDS`, and the result names that
branch, so the ticket's comment links it and no work is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Final, cast

import httpx

from controller.callbacks import CallbackClient, CallbackRefused, Credentials
from controller.github import GitHubRestClient
from controller.pipelines import DEFAULT_PROVIDER, CatalogError, load_catalog
from controller.runner.agent import AgentTranscript, run_agent
from controller.runner.git import Git, GitFailed
from controller.runner.identity import IdentityUnavailable, identity_token
from controller.runner.job import JobError, RunJob, read_job
from controller.runner.pipeline import PipelineOutcome, load_module, run_steps, step_functions
from controller.runner.providers import AgentProvider, AgentSettings
from controller.runner.step import StepContext

logger = logging.getLogger("controller.runner")

SECRET_VARIABLES: Final = frozenset(
    {"AI_IMPLEMENT_PROGRESS_TOKEN", "AI_IMPLEMENT_RESULT_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITHUB_TOKEN"}
)
"""What the agent and the repository's checks never see: the run's callback and GitHub credentials."""
MIN_AGENT_SECONDS: Final = 30.0
REPORT_PATIENCE: Final = timedelta(minutes=5)
"""How long a run that cannot start keeps trying to tell the controller so."""


class StopRequested(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run the session's pipeline from the process environment."""
    del argv  # everything comes from the environment, on every backend
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    return asyncio.run(run_session(dict(os.environ)))


async def run_session(environment: Mapping[str, str]) -> int:
    """Run one session; the exit code is 0 when the run succeeded and its result was recorded."""
    try:
        job = read_job(environment)
    except JobError as error:
        logger.error("%s", error)
        await _report_unusable_environment(environment, str(error))
        return 2
    if job.shadow:
        logger.info("shadow run of %s: the environment is complete; a shadow run reports nothing", job.dispatch)
        return 0
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as http:
        callbacks = CallbackClient(job.callback_url, job.deadline, http=http)
        try:
            credentials = await _credentials(callbacks, job, environment)
        except (CallbackRefused, IdentityUnavailable) as error:
            logger.error("the run cannot report to the controller: %s", error)
            return 1
        if credentials.shadow:
            logger.info("the controller says %s is a shadow run: nothing to report", job.dispatch)
            return 0
        return await Session(job, callbacks, credentials, environment).run()


async def _credentials(callbacks: CallbackClient, job: RunJob, environment: Mapping[str, str]) -> Credentials:
    """A local container shows its progress token; GitHub Actions and Fly runs their platform's OIDC token."""
    proof = job.progress_token or await identity_token(environment, job.callback_url)
    return await callbacks.credentials(job.dispatch, proof)


class Session:
    def __init__(
        self, job: RunJob, callbacks: CallbackClient, credentials: Credentials, environment: Mapping[str, str]
    ) -> None:
        self.job = job
        self.callbacks = callbacks
        self.credentials = credentials
        self.environment = {
            **{name: value for name, value in environment.items() if name not in SECRET_VARIABLES},
            **credentials.environment,
        }
        self.started = datetime.now(UTC)

    async def run(self) -> int:
        job = self.job
        workspace = job.workdir or Path(tempfile.mkdtemp(prefix=f"ai-implement-{job.dispatch}-"))
        token = self.credentials.github.token if self.credentials.github else None
        git = Git(workspace, token, self.environment)
        async with contextlib.AsyncExitStack() as stack:
            github = None
            if self.credentials.github is not None:
                github = await stack.enter_async_context(
                    GitHubRestClient(self.credentials.github.api_url, token=self.credentials.github.token)
                )
            try:
                catalog = load_catalog(job.custom_dir)
                pipeline = catalog.pipeline_for(job.kind)
                functions = step_functions(catalog, pipeline.steps)
                provider_id = self.environment.get("AI_IMPLEMENT_AGENT_PROVIDER") or DEFAULT_PROVIDER
                provider = load_module(catalog.provider(provider_id), "providers")
            except CatalogError as error:
                logger.error("%s", error)
                return await self._report_failure("PipelineInvalid", str(error), None, None)
            context = StepContext(
                job=job,
                workspace=workspace,
                git=git,
                github=github,
                callbacks=self.callbacks,
                progress_token=self.credentials.progress_token,
                environment=self.environment,
                call_agent=lambda prompt, model, turns: self._call_agent(provider, workspace, prompt, model, turns),
            )
            logger.info("%s: running the %s pipeline (%s)", job.dispatch, job.kind, ", ".join(pipeline.steps))
            try:
                outcome = await self._run_until_stopped(context, pipeline.steps, functions)
            except StopRequested as stop:
                saved = await self._save_work(context)
                interrupted = context.current_step
                if interrupted is not None:
                    await self._progress({"name": interrupted, "status": "failed", "message": stop.message})
                return await self._report_failure(stop.reason, stop.message, interrupted, saved, context)
            if not outcome.succeeded:
                return await self._report_failure(
                    outcome.reason or "StepFailed", outcome.message or "", outcome.failed_step, None, context
                )
            return await self._report_success(context)

    async def _call_agent(
        self, provider: ModuleType, workspace: Path, prompt: str, model: str | None, turns: int
    ) -> AgentTranscript:
        remaining = (self.job.stop_at(self.started) - datetime.now(UTC)).total_seconds()
        settings = AgentSettings(
            command=self.job.agent_command,
            model=model,
            max_turns=turns,
            timeout_seconds=max(remaining, MIN_AGENT_SECONDS),
            provider=self.job.model_provider,
            aws_region=self.job.aws_region,
        )
        return await run_agent(settings, prompt, workspace, self.environment, provider=cast(AgentProvider, provider))

    async def _run_until_stopped(
        self, context: StepContext, steps: Sequence[str], functions: Mapping[str, Any]
    ) -> PipelineOutcome:
        """The pipeline, unless a signal or the time limit comes first (then StopRequested)."""
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[Any] = loop.create_future()

        def stop(reason: str, message: str) -> None:
            if not stopped.done():
                stopped.set_result(StopRequested(reason, message))

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, "Stopped", f"the run was stopped ({signal.Signals(signum).name})")
        seconds = max((self.job.stop_at(self.started) - datetime.now(UTC)).total_seconds(), 0.0)
        timer = loop.call_later(
            seconds, stop, "JobTimeLimit", f"the run reached its time limit ({self.job.max_job_minutes} min)"
        )
        running = run_steps(context, steps, functions, self._progress)
        work: asyncio.Future[PipelineOutcome] = asyncio.ensure_future(running)
        heartbeat = asyncio.ensure_future(self._beat_while(work))
        try:
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                return work.result()
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            raise stopped.result()
        finally:
            heartbeat.cancel()
            timer.cancel()
            for signum in (signal.SIGTERM, signal.SIGINT):  # the result is on its way: it is finished first
                loop.add_signal_handler(signum, logger.info, "asked to stop while reporting; reporting first")

    async def _beat_while(self, work: asyncio.Future[PipelineOutcome]) -> None:
        """A heartbeat while a long step (the agent) works: the controller's stall timeout is for silent runs."""
        while not work.done():
            await asyncio.sleep(self.job.heartbeat_seconds)
            if not work.done():
                await self._progress(None)

    async def _save_work(self, context: StepContext) -> str | None:
        """Commit and push what the agent did so far to ai-implement/wip/<dispatch>; the branch, if pushed."""
        branch = self.job.work_in_progress_branch
        try:
            async with asyncio.timeout(self.job.stop_grace_seconds):
                if not (context.workspace / ".git").is_dir() or not context.base_sha:
                    return None
                if await context.git.has_changes():
                    await context.git.commit_all(
                        f"{self.job.issue_identifier}: work in progress\n\n"
                        f"Saved when AI-Implement's run {self.job.dispatch} was stopped."
                    )
                if await context.git.commits_since(context.base_sha) == 0:
                    logger.info("nothing to save: the run had changed nothing yet")
                    return None
                await context.git.push(branch, force=True)
        except (TimeoutError, GitFailed) as error:
            logger.error("could not save the work in progress to %s: %s", branch, error)
            return None
        logger.info("saved the work in progress to %s", branch)
        return branch

    async def _progress(self, step: Mapping[str, Any] | None) -> None:
        with contextlib.suppress(CallbackRefused):
            await self.callbacks.progress(self.credentials.progress_token, step)

    async def _report_success(self, context: StepContext) -> int:
        result: dict[str, Any] = {"outcome": "succeeded"}
        if context.pull_request_url and context.pull_request_number:
            result |= {"pullRequestUrl": context.pull_request_url, "pullRequestNumber": context.pull_request_number}
        return await self._send_result(result, context)

    async def _report_failure(
        self,
        reason: str,
        message: str,
        step: str | None,
        saved_branch: str | None,
        context: StepContext | None = None,
    ) -> int:
        where = f"step `{step}`: " if step else ""
        result: dict[str, Any] = {
            "outcome": "failed",
            "error": {"reason": reason, "message": f"{where}{message}"[:8000]},
        }
        if saved_branch:
            result["workInProgressBranch"] = saved_branch
        await self._send_result(result, context)
        return 1

    async def _send_result(self, result: dict[str, Any], context: StepContext | None) -> int:
        if context is not None:
            usage = context.usage.as_report()
            if usage is not None:
                result["usage"] = usage
            if context.summary:
                result["summary"] = context.summary
        try:
            await self.callbacks.result(self.credentials.result_token, result)
        except CallbackRefused as error:
            logger.error("the controller did not take the result: %s", error)
            return 1
        logger.info("%s: reported %s", self.job.dispatch, result["outcome"])
        return 0 if result["outcome"] == "succeeded" else 1


async def _report_unusable_environment(environment: Mapping[str, str], problem: str) -> None:
    """Tell the controller the run could not start, when there is enough to reach it: nothing is silent."""
    callback = (environment.get("AI_IMPLEMENT_CALLBACK_URL") or "").rstrip("/")
    dispatch = environment.get("AI_IMPLEMENT_DISPATCH") or ""
    if not callback.startswith(("http://", "https://")) or not dispatch:
        return
    deadline = datetime.now(UTC).replace(microsecond=0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as http:
        callbacks = CallbackClient(callback, deadline + REPORT_PATIENCE, http=http)
        try:
            proof = environment.get("AI_IMPLEMENT_PROGRESS_TOKEN") or await identity_token(environment, callback)
            credentials = await callbacks.credentials(dispatch, proof)
            if credentials.shadow:
                return
            await callbacks.result(
                credentials.result_token,
                {"outcome": "failed", "error": {"reason": "BadRunEnvironment", "message": problem[:8000]}},
            )
        except (CallbackRefused, IdentityUnavailable) as error:
            logger.error("could not report the problem to the controller either: %s", error)
