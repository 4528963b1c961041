"""Let the agent answer the pull request's review feedback, on the pull request's branch."""

from __future__ import annotations

from controller.runner.step import StepContext, StepResult
from controller.runner.steps._work import agent_work


async def run(context: StepContext) -> StepResult:
    return await agent_work(context)
