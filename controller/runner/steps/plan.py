"""Ask the agent for a plan (PLANNING.md's instructions); the plan is the run's summary, for the ticket."""

from __future__ import annotations

from controller.runner.prompts import PLANNING_FILE
from controller.runner.step import StepContext, StepFailed, StepResult
from controller.runner.steps._work import agent_work


async def run(context: StepContext) -> StepResult:
    result = await agent_work(context, PLANNING_FILE)
    if not context.summary:
        raise StepFailed("EmptyPlan", "the agent finished without writing a plan")
    return StepResult(message=f"wrote a plan of {len(context.summary)} characters", output=result.output)
