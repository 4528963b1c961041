"""Let the agent implement the ticket (WORKFLOW.md's instructions, the ticket and the approved plan)."""

from __future__ import annotations

from controller.runner.step import StepContext, StepResult
from controller.runner.steps._work import agent_work


async def run(context: StepContext) -> StepResult:
    return await agent_work(context)
