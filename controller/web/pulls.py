"""GET /api/pulls: every bot-opened pull request being followed, for the "Pull requests" panel."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from controller.store import TrackedPullRequest, Usage
from controller.web.context import WebContext, context_of
from controller.web.jobs import UsageOut
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, respond

router = ApiRouter(tag="pulls")


class GitHubLinks(CamelModel):
    pull_request: str = Field(description="The pull request.")
    files: str = Field(description="Its changed files.")
    checks: str = Field(description="Its checks.")


class PullRow(CamelModel):
    repo: str = Field(description="owner/name of the repository.")
    number: int
    title: str = Field(description="The ticket's title.")
    identifier: str = Field(description="The ticket's key, e.g. ENG-12.")
    issue_url: str = Field(description="Link to the ticket.")
    team_key: str
    state: str = Field(description="open, merged or closed.")
    job_status: str = Field(description="running, completed, failed or review_failed.")
    iteration: int = Field(description="The dispatch number of the latest run on the pull request.")
    last_dispatch: str | None = Field(description="The latest Dispatch's name.")
    last_dispatched_at: datetime
    seconds_since_last_dispatch: int = Field(description="Time since the latest run on it started.")
    links: GitHubLinks
    usage: UsageOut | None = Field(
        default=None, description="Tokens and cost summed over every run on the pull request that reported them."
    )


class PullList(CamelModel):
    pulls: list[PullRow] = Field(description="The most recently dispatched first.")


def pull_row(pull: TrackedPullRequest, now: datetime, usage: Usage | None = None) -> PullRow:
    return PullRow(
        repo=pull.repo,
        number=pull.number,
        title=pull.title,
        identifier=pull.identifier,
        issue_url=pull.issue_url,
        team_key=pull.team_key,
        state=pull.state,
        job_status=pull.job_status,
        iteration=pull.iteration,
        last_dispatch=pull.last_dispatch_name,
        last_dispatched_at=pull.last_dispatched_at,
        seconds_since_last_dispatch=max(int((now - pull.last_dispatched_at).total_seconds()), 0),
        links=GitHubLinks(pull_request=pull.url, files=f"{pull.url}/files", checks=f"{pull.url}/checks"),
        usage=UsageOut.of(usage),
    )


@router.route("GET", "/api/pulls", summary="Bot-opened pull requests being tracked", responses={200: PullList})
async def list_pulls(request: web.Request) -> web.Response:
    return respond(await pulls_of(context_of(request)))


async def pulls_of(context: WebContext) -> PullList:
    """The tracked pull requests with their usage, for the JSON API and the Pull requests panel alike."""
    now = context.clock()
    pulls = await context.store.tracked_pull_requests()
    usage = await context.store.usage_of_pull_requests(pull.url for pull in pulls)
    return PullList(pulls=[pull_row(pull, now, usage.get(pull.url)) for pull in pulls])
