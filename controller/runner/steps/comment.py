"""Tell the pull request what this run did (review and gap-fill runs), in one comment."""

from __future__ import annotations

from controller.runner.step import StepContext, StepFailed, StepResult

KIND_WORDS = {"review": "review follow-up", "gap-fill": "gap-fill"}


async def run(context: StepContext) -> StepResult:
    job = context.job
    if context.github is None or job.pull_request_number is None:
        raise StepFailed("NoPullRequest", "this step comments on the run's pull request, and the run has none")
    what = f"AI-Implement's {KIND_WORDS.get(job.kind, job.kind)} run `{job.dispatch}`"
    if context.pushed:
        sha = await context.git.head()
        text = f"{what} pushed {sha[:12]} to `{context.branch}`."
    else:
        text = f"{what} made no change."
    if context.summary:
        text += "\n\n" + context.summary.strip()[:60_000]
    comment = await context.github.create_issue_comment(job.owner, job.repo, job.pull_request_number, text)
    pull_url = (context.brief.get("pullRequest") or {}).get("url")
    context.pull_request_number = job.pull_request_number
    context.pull_request_url = context.pull_request_url or (str(pull_url) if pull_url else None)
    return StepResult(message=f"commented on #{job.pull_request_number}", output={"comment": comment.html_url})
