"""Let the agent finish what the pull request still misses for its ticket (an /ai-implement comment)."""

from __future__ import annotations

from controller.runner.step import StepContext, StepResult
from controller.runner.steps._work import agent_work


async def run(context: StepContext) -> StepResult:
    return await agent_work(context)
