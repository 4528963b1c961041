"""Push the run's commits to its branch (never forced: a branch someone else moved is not overwritten)."""

from __future__ import annotations

from controller.runner.step import StepContext, StepResult


async def run(context: StepContext) -> StepResult:
    if await context.git.commits_since(context.base_sha) == 0:
        return StepResult(message="no new commits to push", skipped=True)
    await context.git.push(context.branch)
    context.pushed = True
    sha = await context.git.head()
    return StepResult(message=f"pushed {sha[:12]} to {context.branch}", output={"branch": context.branch, "sha": sha})
