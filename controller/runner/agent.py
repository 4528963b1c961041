"""The coding agent, run as a subprocess: Claude Code in non-interactive mode with stream-JSON output.

The provider (`controller.runner.providers.claude_code` by default) builds the call from the run's
settings; `AgentTranscript`
reads the stream (one JSON object per line: `system` init, `assistant` and `user` messages, and a
final `result` with the turns, the cost and the token usage) without I/O, so it is tested on
recorded lines; `run_agent` is the I/O: it starts the process in the checkout, feeds the prompt on
stdin, reads the stream as it comes, and stops the agent at its time limit.

Credentials: `CLAUDE_CODE_OAUTH_TOKEN` is preferred over `ANTHROPIC_API_KEY` (Claude Code would use
the API key when both are set, so it is removed); Bedrock is chosen with the mapping's provider and
region (`CLAUDE_CODE_USE_BEDROCK=1`, `AWS_REGION`), with the AWS credentials of the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from controller.runner.providers import AgentProvider, AgentSettings, claude_code

logger = logging.getLogger("controller.runner")

STDERR_TAIL_CHARS: Final = 4000
STOP_GRACE_SECONDS: Final = 10.0


class AgentFailed(Exception):
    """The agent could not do the work: it failed, ran out of turns or time, or said nothing readable."""

    def __init__(self, reason: str, message: str, transcript: AgentTranscript | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.transcript = transcript


@dataclass
class AgentTranscript:
    """What the agent said, read line by line; `result` is set once its final event arrived."""

    session_id: str | None = None
    model: str | None = None
    tool_uses: int = 0
    last_text: str = ""
    result: dict[str, Any] | None = None
    unreadable_lines: int = 0
    events: int = 0
    tools: list[str] = field(default_factory=list)

    def read(self, line: str) -> dict[str, Any] | None:
        """Take one line of the stream; the event it held (None for a blank or unreadable line)."""
        text = line.strip()
        if not text:
            return None
        try:
            event = json.loads(text)
        except ValueError:
            self.unreadable_lines += 1
            return None
        if not isinstance(event, dict):
            self.unreadable_lines += 1
            return None
        self.events += 1
        self._take(event)
        return event

    def _take(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        self.session_id = event.get("session_id") or self.session_id
        if kind == "system" and event.get("subtype") == "init":
            self.model = event.get("model") or self.model
        elif kind == "assistant":
            for block in _content(event):
                if block.get("type") == "tool_use":
                    self.tool_uses += 1
                    self.tools.append(str(block.get("name")))
                elif block.get("type") == "text" and block.get("text"):
                    self.last_text = str(block["text"])
        elif kind == "result":
            self.result = event

    @property
    def succeeded(self) -> bool:
        return self.result is not None and self.result.get("subtype") == "success" and not self.result.get("is_error")

    def usage(self) -> dict[str, Any] | None:
        """The run's usage as `/runner/result` takes it, from the final event; None before it."""
        if self.result is None:
            return None
        reported = self.result.get("usage")
        tokens: Mapping[str, Any] = reported if isinstance(reported, dict) else {}
        return {
            "inputTokens": _count(tokens, "input_tokens"),
            "outputTokens": _count(tokens, "output_tokens"),
            "cacheReadTokens": _count(tokens, "cache_read_input_tokens"),
            "cacheCreationTokens": _count(tokens, "cache_creation_input_tokens"),
            "costUsd": _cost(self.result.get("total_cost_usd")),
            **({"model": self.model} if self.model else {}),
        }

    def failure(self) -> tuple[str, str]:
        """Why the agent did not succeed, in the words of its final event when it sent one."""
        if self.result is None:
            return "AgentSilent", "the agent ended without its final result event"
        subtype = str(self.result.get("subtype") or "error")
        said = str(self.result.get("result") or self.last_text or "")[:2000]
        if subtype == "error_max_turns":
            turns = self.result.get("num_turns")
            return "MaxTurnsReached", f"the agent used all its turns ({turns}) before finishing. {said}".strip()
        return "AgentFailed", f"the agent reported {subtype}. {said}".strip()


def _content(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    message = event.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return [block for block in content if isinstance(block, dict)] if isinstance(content, list) else []


def _count(tokens: Mapping[str, Any], key: str) -> int:
    value = tokens.get(key)
    return value if isinstance(value, int) and value >= 0 else 0


def _cost(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and value >= 0 else 0.0


EventSink = Callable[[dict[str, Any]], None]


async def run_agent(
    settings: AgentSettings,
    prompt: str,
    workdir: Path,
    environment: Mapping[str, str],
    *,
    on_event: EventSink | None = None,
    provider: AgentProvider = claude_code,
) -> AgentTranscript:
    """Run the agent on `prompt` in `workdir` until it ends or its time is up; raises AgentFailed.

    `provider` turns the settings into the command line and environment (custom/providers/ may
    supply another); the output is read as Claude Code's stream-JSON whichever it is.
    """
    command = provider.command(settings)
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=workdir,
            env=provider.environment(environment, settings),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
            start_new_session=True,  # its own process group: stopping it stops what it started
        )
    except OSError as error:
        raise AgentFailed("AgentNotFound", f"could not start the agent {command[0]!r}: {error}") from None
    transcript = AgentTranscript()
    stderr = asyncio.ensure_future(_tail(process.stderr))
    try:
        async with asyncio.timeout(settings.timeout_seconds):
            await _feed(process, prompt)
            try:
                await _read(process, transcript, on_event)
            except ValueError as error:  # a line longer than the reader's limit
                raise AgentFailed(
                    "AgentOutputUnreadable", f"the agent wrote a line too long to read: {error}"
                ) from None
            code = await process.wait()
    except TimeoutError:
        await _stop(process)
        raise AgentFailed(
            "AgentTimedOut", f"the agent was still working after {settings.timeout_seconds:.0f} s", transcript
        ) from None
    finally:
        if process.returncode is None:
            await _stop(process)
    try:
        errors = await asyncio.wait_for(stderr, STOP_GRACE_SECONDS)
    except TimeoutError:  # something the agent started still holds its stderr open
        errors = ""
    if transcript.succeeded and code == 0:
        return transcript
    reason, message = transcript.failure()
    if transcript.result is None:
        message = f"{message} (exit code {code}){': ' + errors if errors else ''}"
    raise AgentFailed(reason, message, transcript)


async def _feed(process: asyncio.subprocess.Process, prompt: str) -> None:
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(prompt.encode())
        await process.stdin.drain()
    process.stdin.close()


async def _read(process: asyncio.subprocess.Process, transcript: AgentTranscript, on_event: EventSink | None) -> None:
    assert process.stdout is not None
    async for raw in process.stdout:
        event = transcript.read(raw.decode(errors="replace"))
        if event is not None and on_event is not None:
            on_event(event)


async def _tail(stream: asyncio.StreamReader | None) -> str:
    if stream is None:
        return ""
    data = await stream.read()
    return data.decode(errors="replace").strip()[-STDERR_TAIL_CHARS:]


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to its process group, then SIGKILL after a grace: the agent gets a moment to finish writing."""
    _signal_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
    except TimeoutError:
        _signal_group(process, signal.SIGKILL)
        await process.wait()


def _signal_group(process: asyncio.subprocess.Process, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
