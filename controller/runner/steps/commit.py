"""Commit what the agent changed, as the AI-Implement bot, with a message naming the ticket and the run."""

from __future__ import annotations

from controller.runner.step import StepContext, StepFailed, StepResult


async def run(context: StepContext) -> StepResult:
    job = context.job
    if not await context.git.has_changes():
        if await context.git.commits_since(context.base_sha) > 0:
            return StepResult(message="the agent committed its changes itself", skipped=True)
        if job.kind == "implementation":
            raise StepFailed("NoChanges", "the agent finished without changing any file")
        return StepResult(message="nothing to commit", skipped=True)
    files = await context.git.changed_files()
    title = str((context.brief.get("ticket") or {}).get("title") or "").strip()
    subject = f"{job.issue_identifier}: {title}"[:72].rstrip() if title else f"{job.issue_identifier}: {job.kind}"
    body = (context.summary or "").strip()
    message = f"{subject}\n\n{body[:4000]}\n\nAI-Implement dispatch: {job.dispatch}".replace("\n\n\n", "\n\n")
    sha = await context.git.commit_all(message)
    return StepResult(message=f"committed {len(files)} files as {sha[:12]}", output={"sha": sha, "files": files[:50]})
