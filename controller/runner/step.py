"""The one interface every pipeline step implements, built-in or custom.

A step is a Python file whose id is its name (`controller/runner/steps/<id>.py`, or
`custom/steps/<id>.py` to override or add one) with one coroutine at the top level:

    async def run(context: StepContext) -> StepResult | None

It reads and changes the run through `context` (the checkout, git, GitHub with the run's own token,
the coding agent, what earlier steps left), returns what it did (reported to the controller as the
step's message and structured output), and raises `StepFailed` to end the run with a reason. Any
other exception fails the run too, reported with its type and message. docs/pipelines.md has a
worked example.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from controller.callbacks import CallbackClient
from controller.github import GitHubRestClient
from controller.runner.agent import AgentFailed, AgentTranscript
from controller.runner.git import Git
from controller.runner.job import RunJob
from controller.runner.prompts import PromptFile
from controller.store.records import Usage

OUTPUT_TAIL_CHARS: Final = 4000


class StepFailed(Exception):
    """The step could not do its work: `reason` is a CamelCase word, `message` says what and where."""

    def __init__(self, reason: str, message: str, output: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.output = dict(output or {})


@dataclass(frozen=True, slots=True)
class StepResult:
    message: str = ""
    """One line for people: shown in the Pipelines panel."""
    output: Mapping[str, Any] = field(default_factory=dict)
    """Structured output for the step log (kept up to 4 KiB as JSON)."""
    skipped: bool = False
    """The step had nothing to do (reported as skipped, not as succeeded)."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    code: int
    output: str


@dataclass
class UsageTally:
    """What the agent used over every call of this run, as /runner/result takes it."""

    total: Usage | None = None

    def add(self, reported: Mapping[str, Any] | None) -> None:
        """Add one call's usage (AgentTranscript.usage()); the run's model is the last one named."""
        if not reported:
            return
        usage = Usage(
            input_tokens=int(reported.get("inputTokens", 0)),
            output_tokens=int(reported.get("outputTokens", 0)),
            cache_read_tokens=int(reported.get("cacheReadTokens", 0)),
            cache_creation_tokens=int(reported.get("cacheCreationTokens", 0)),
            cost_usd=float(reported.get("costUsd", 0.0)),
            model=reported.get("model"),
        )
        if self.total is not None:
            usage = replace(self.total + usage, model=usage.model or self.total.model)
        self.total = usage

    def as_report(self) -> dict[str, Any] | None:
        if self.total is None:
            return None
        total = self.total
        return {
            "inputTokens": total.input_tokens,
            "outputTokens": total.output_tokens,
            "cacheReadTokens": total.cache_read_tokens,
            "cacheCreationTokens": total.cache_creation_tokens,
            "costUsd": total.cost_usd,
            **({"model": total.model} if total.model else {}),
        }


AgentCall = Callable[[str, "str | None", int], Awaitable[AgentTranscript]]
"""(prompt, model, max turns) → the transcript; raises AgentFailed."""


@dataclass
class StepContext:
    """What a step works with; steps share it, so a later step sees what an earlier one left."""

    job: RunJob
    workspace: Path
    git: Git
    github: GitHubRestClient | None
    callbacks: CallbackClient | None
    progress_token: str | None
    environment: Mapping[str, str]
    """The run's environment, as the agent and the repository's checks get it."""
    call_agent: AgentCall
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("controller.runner.step"))
    brief: dict[str, Any] = field(default_factory=dict)
    """GET /runner/brief: ticket, plan, feedback, pull request (set by gather-ticket)."""
    prompt_files: dict[str, PromptFile] = field(default_factory=dict)
    """WORKFLOW.md and PLANNING.md of the checkout, read by checkout."""
    branch: str = ""
    """The branch the run works on and pushes to."""
    base_sha: str = ""
    """The commit the branch started from: what the run's commits are counted against."""
    pull_request_url: str | None = None
    pull_request_number: int | None = None
    summary: str | None = None
    """What the run produced in words (a planning run's plan, the agent's last message)."""
    pushed: bool = False
    current_step: str | None = None
    """The step running now (what a stop interrupts)."""
    usage: UsageTally = field(default_factory=UsageTally)
    extras: dict[str, Any] = field(default_factory=dict)
    """Anything custom steps want to hand to later steps."""

    async def run_agent(
        self, prompt: str, *, model: str | None = None, max_turns: int | None = None
    ) -> AgentTranscript:
        """Run the coding agent in the checkout; its usage is added to the run's, even when it fails."""
        turns = min(max_turns or self.job.max_turns, self.job.max_turns)
        try:
            transcript = await self.call_agent(prompt, model, turns)
        except AgentFailed as error:
            if error.transcript is not None:
                self.usage.add(error.transcript.usage())
            raise StepFailed(error.reason, error.message) from None
        self.usage.add(transcript.usage())
        return transcript

    async def shell(self, command: str, *, limit_seconds: float = 1800.0) -> CommandResult:
        """Run a shell command in the checkout with the run's environment (minus its callback tokens)."""
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            cwd=self.workspace,
            env=dict(self.environment),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), limit_seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
            said = f"`{shlex.quote(command)}` ran longer than {limit_seconds:.0f} s"
            raise StepFailed("CommandTimedOut", said) from None
        text = out.decode(errors="replace").strip()[-OUTPUT_TAIL_CHARS:]
        return CommandResult(process.returncode if process.returncode is not None else -1, text)


StepFunction = Callable[[StepContext], Awaitable["StepResult | None"]]
