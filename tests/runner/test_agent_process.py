"""The coding agent as a real subprocess: the fake agent executable, which speaks Claude Code's stream-JSON."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from controller.runner.agent import AgentFailed, AgentSettings, run_agent

FAKE_AGENT = (sys.executable, "-m", "controller.sandbox.fake_agent")
PROMPT = "Add a dark mode toggle\nfake-agent: write src/theme.css body { background: black }\n"


def environment(**extra: str) -> dict[str, str]:
    root = str(Path(__file__).parents[2])
    return {"PATH": os.environ["PATH"], "PYTHONPATH": root, **extra}


async def test_the_agent_edits_the_checkout_and_reports_its_usage(tmp_path: Path) -> None:
    seen: list[str] = []
    transcript = await run_agent(
        AgentSettings(command=FAKE_AGENT, model="claude-sonnet-4-5", max_turns=10, timeout_seconds=30),
        PROMPT,
        tmp_path,
        environment(),
        on_event=lambda event: seen.append(str(event["type"])),
    )

    assert (tmp_path / "src" / "theme.css").read_text() == "body { background: black }\n"
    assert seen == ["system", "assistant", "user", "assistant", "result"]
    usage = transcript.usage()
    assert usage is not None
    assert (usage["model"], usage["outputTokens"], usage["costUsd"] > 0) == ("claude-sonnet-4-5", 400, True)


@pytest.mark.parametrize(
    ("ending", "reason", "words"),
    [
        ("fail", "AgentFailed", "error_during_execution"),
        ("max-turns", "MaxTurnsReached", "used all its turns"),
        ("crash", "AgentSilent", "(exit code 2): fake-agent: crashed on purpose"),
    ],
)
async def test_an_agent_that_does_not_succeed_says_why(tmp_path: Path, ending: str, reason: str, words: str) -> None:
    with pytest.raises(AgentFailed) as failed:
        await run_agent(
            AgentSettings(command=FAKE_AGENT, timeout_seconds=30),
            PROMPT,
            tmp_path,
            environment(FAKE_AGENT_ENDING=ending),
        )
    assert failed.value.reason == reason
    assert words in failed.value.message


async def test_an_agent_past_its_time_is_stopped(tmp_path: Path) -> None:
    with pytest.raises(AgentFailed) as failed:
        await run_agent(
            AgentSettings(command=FAKE_AGENT, timeout_seconds=1.5),
            PROMPT,
            tmp_path,
            environment(FAKE_AGENT_ENDING="hang"),
        )
    assert (failed.value.reason, failed.value.message) == ("AgentTimedOut", "the agent was still working after 2 s")


async def test_a_missing_agent_is_named(tmp_path: Path) -> None:
    with pytest.raises(AgentFailed) as failed:
        await run_agent(AgentSettings(command=("no-such-agent-cli",)), PROMPT, tmp_path, environment())
    assert failed.value.reason == "AgentNotFound"
    assert "'no-such-agent-cli'" in failed.value.message
