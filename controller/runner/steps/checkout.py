"""Clone the repository with the run's token and put the working tree on the run's branch.

Planning runs work on the default branch (they push nothing); implementation runs on a new branch
named after the dispatch; review and gap-fill runs on the pull request's own branch.
"""

from __future__ import annotations

from controller.runner.prompts import PLANNING_FILE, WORKFLOW_FILE, PromptFileError, read_prompt_file
from controller.runner.step import StepContext, StepFailed, StepResult


async def run(context: StepContext) -> StepResult:
    job = context.job
    if context.github is None:
        raise StepFailed("NoGitHubAccess", "the controller handed the run no GitHub token (is its GitHub App set up?)")
    repository = await context.github.get_repository(job.owner, job.repo)
    if not repository.clone_url:
        raise StepFailed("NoCloneUrl", f"GitHub gave no clone URL for {job.full_repo}")
    start = job.base_branch
    if job.kind in ("review", "gap-fill"):
        start = await _pull_request_branch(context)
    await context.git.clone(repository.clone_url, start)
    context.base_sha = await context.git.head()
    context.branch = start
    if job.kind == "implementation":
        context.branch = f"ai-implement/{job.dispatch}"
        await context.git.run("checkout", "--quiet", "-b", context.branch)
    for name in (WORKFLOW_FILE, PLANNING_FILE):
        path = context.workspace / name
        try:
            text = path.read_text(encoding="utf-8") if path.is_file() else None
            context.prompt_files[name] = read_prompt_file(text, name)
        except (PromptFileError, UnicodeDecodeError) as error:
            raise StepFailed("PromptFileInvalid", f"{job.full_repo}: {error}") from None
    return StepResult(
        message=f"checked out {job.full_repo} at {start} ({context.base_sha[:12]}), working on {context.branch}",
        output={"repository": job.full_repo, "branch": context.branch, "baseSha": context.base_sha},
    )


async def _pull_request_branch(context: StepContext) -> str:
    job = context.job
    if job.pull_request_branch:
        return job.pull_request_branch
    assert context.github is not None
    assert job.pull_request_number is not None
    pull = await context.github.get_pull_request(job.owner, job.repo, job.pull_request_number)
    if pull.state != "open":
        raise StepFailed("PullRequestClosed", f"{job.full_repo}#{pull.number} is {pull.state}: nothing to push to")
    return pull.head.ref
