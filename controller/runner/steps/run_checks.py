"""Run the repository's own checks (`checks:` in WORKFLOW.md's front matter) in order; a failure ends the run."""

from __future__ import annotations

from controller.runner.step import StepContext, StepFailed, StepResult
from controller.runner.steps._work import prompt_file


async def run(context: StepContext) -> StepResult:
    checks = prompt_file(context, "WORKFLOW.md").checks
    if not checks:
        return StepResult(message="WORKFLOW.md lists no checks", skipped=True)
    for command in checks:
        result = await context.shell(command)
        if result.code != 0:
            raise StepFailed(
                "ChecksFailed",
                f"`{command}` exited with {result.code}: {result.output[-1500:]}",
                {"command": command, "exitCode": result.code, "output": result.output[-3000:]},
            )
    return StepResult(message=f"{len(checks)} checks passed", output={"checks": list(checks)})
