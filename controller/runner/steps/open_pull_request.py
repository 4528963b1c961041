"""Open the pull request for the run's branch, or take the one already open for it (a repeated run)."""

from __future__ import annotations

from controller.runner.step import StepContext, StepFailed, StepResult

MARKER = "<!-- ai-implement:dispatch={dispatch} -->"


async def run(context: StepContext) -> StepResult:
    job = context.job
    if context.github is None:
        raise StepFailed("NoGitHubAccess", "the run has no GitHub token to open a pull request with")
    if not context.pushed:
        raise StepFailed(
            "NothingPushed", f"there is nothing on {context.branch or 'the branch'} to open a pull request for"
        )
    existing = await context.github.list_pull_requests(job.owner, job.repo, head=context.branch, state="open")
    if existing:
        pull = existing[0]
        verb = "found"
    else:
        ticket = context.brief.get("ticket") or {}
        title = f"{job.issue_identifier}: {str(ticket.get('title') or 'changes by AI-Implement').strip()}"[:256]
        pull = await context.github.create_pull_request(
            job.owner, job.repo, title=title, head=context.branch, base=job.base_branch, body=_body(context, ticket)
        )
        verb = "opened"
    context.pull_request_url, context.pull_request_number = pull.html_url, pull.number
    return StepResult(message=f"{verb} {pull.html_url}", output={"number": pull.number, "url": pull.html_url})


def _body(context: StepContext, ticket: dict[str, object]) -> str:
    job = context.job
    link = f"[{job.issue_identifier}]({ticket['url']})" if ticket.get("url") else job.issue_identifier
    parts = [f"Implements {link}.", ""]
    if context.summary:
        parts += ["## What changed", "", context.summary.strip(), ""]
    parts += [f"_Opened by AI-Implement's implementation run `{job.dispatch}`._", MARKER.format(dispatch=job.dispatch)]
    return "\n".join(parts)
