"""GET /runner/brief: what a run works on, handed to it by the controller rather than through its inputs.

A run knows its ticket's identifier from its launch; the ticket's description, the approved plan (an
implementation run after a planning run) and the review feedback it answers (a review run) are read
here, with the run's progress token. Workflow inputs and machine configs are readable by others and
size-limited, and a runner holds no tracker credentials, so the controller reads them for it.

A tracker that cannot be reached does not stop the run: the brief says so in `warnings` and carries
what the Dispatch recorded (title, link), so the agent can still work from the ticket's title.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from aiohttp import web
from pydantic import Field

from controller.resources import DispatchSpec
from controller.runners.tokens import TokenPurpose
from controller.ticketing.model import Ticket
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.models import CamelModel
from controller.web.routing import Access, ApiRouter, respond
from controller.web.runner_callbacks import claims_of_request, dispatch_of_claims

logger = logging.getLogger(__name__)
router = ApiRouter(tag="runner")

TICKET_READ_SECONDS: Final = 10.0
MAX_DESCRIPTION_CHARS: Final = 64 * 1024
MAX_FEEDBACK_ITEMS: Final = 100


class BriefTicket(CamelModel):
    provider: str = Field(description="linear or jira.")
    id: str = Field(description="The ticket's id in its system.")
    identifier: str = Field(description="Its human key, e.g. ENG-123.")
    title: str = Field(description="Its title.")
    url: str = Field(description="Link to it.")
    description: str | None = Field(description="Its description as the tracker has it now; none when unreadable.")


class BriefFeedback(CamelModel):
    kind: str = Field(description="review, review_comment or comment.")
    author: str = Field(description="Who wrote it.")
    body: str = Field(description="What they wrote.")
    url: str = Field(description="Link to it.")


class BriefPullRequest(CamelModel):
    number: int = Field(description="The pull request the run works on.")
    url: str = Field(description="Link to it.")
    head_branch: str | None = Field(description="Its branch, which the run pushes to.")


class RunBrief(CamelModel):
    dispatch: str = Field(description="The Dispatch this brief belongs to.")
    kind: str = Field(description="planning, implementation, review or gap-fill.")
    ticket: BriefTicket = Field(description="The ticket.")
    plan: str | None = Field(description="The plan of the ticket's last successful planning run, if any.")
    feedback: list[BriefFeedback] = Field(description="The review feedback a review run answers, oldest first.")
    pull_request: BriefPullRequest | None = Field(description="The pull request of a review or gap-fill run.")
    warnings: list[str] = Field(description="What could not be read, and why; the run goes on without it.")


@router.route(
    "GET",
    "/runner/brief",
    summary="What the run works on: the ticket, the approved plan, the review feedback (progress token)",
    access=Access.OWN_SECRET,
    responses={200: RunBrief, 401: None, 409: None, 410: None, 501: None},
)
async def run_brief(request: web.Request) -> web.Response:
    context = context_of(request)
    claims = await claims_of_request(request, TokenPurpose.PROGRESS)
    if not await context.store.is_runner_token_valid(claims.jti, context.clock()):
        raise ApiError(401, "token_invalid", "the token is unknown, revoked or expired")
    dispatch = await dispatch_of_claims(context, claims, TokenPurpose.PROGRESS)
    spec = DispatchSpec.model_validate(dispatch["spec"])
    warnings: list[str] = []
    description = await _description(context, spec, warnings)
    pull = spec.pull_request
    return respond(
        RunBrief(
            dispatch=claims.dispatch_name,
            kind=spec.kind,
            ticket=BriefTicket(
                provider=spec.issue.provider,
                id=spec.issue.id,
                identifier=spec.issue.identifier,
                title=spec.issue.title,
                url=spec.issue.url,
                description=description,
            ),
            plan=await _plan(context, spec) if spec.kind != "planning" else None,
            feedback=await _feedback(context, claims.dispatch_name) if spec.kind == "review" else [],
            pull_request=BriefPullRequest(number=pull.number, url=pull.url, head_branch=pull.head_branch)
            if pull is not None
            else None,
            warnings=warnings,
        )
    )


async def _description(context: WebContext, spec: DispatchSpec, warnings: list[str]) -> str | None:
    source = context.tickets.get(spec.issue.provider)
    if source is None:
        warnings.append(f"{spec.issue.provider} is not configured on the controller: the description is missing")
        return None
    try:
        ticket: Ticket | None = await asyncio.wait_for(source.ticket(spec.issue.id), TICKET_READ_SECONDS)
    except Exception as error:  # any tracker failure leaves the run its title, never a failed brief
        logger.warning("could not read %s for a run's brief: %s", spec.issue.identifier, error)
        warnings.append(f"{spec.issue.provider} could not be read ({type(error).__name__}): the description is missing")
        return None
    if ticket is None:
        warnings.append(f"{spec.issue.identifier} no longer exists in {spec.issue.provider}")
        return None
    return ticket.description[:MAX_DESCRIPTION_CHARS]


async def _plan(context: WebContext, spec: DispatchSpec) -> str | None:
    """The summary of the ticket's latest successful planning run."""
    plannings = [
        entry
        for entry in await context.store.dispatch_log_for_issues([spec.issue.id])
        if entry.kind == "planning" and entry.status == "succeeded" and entry.summary
    ]
    return plannings[-1].summary if plannings else None


async def _feedback(context: WebContext, dispatch_name: str) -> list[BriefFeedback]:
    taken = await context.store.review_feedback_of(dispatch_name)
    return [
        BriefFeedback(kind=item.kind, author=item.author, body=item.body, url=item.url)
        for item in taken[:MAX_FEEDBACK_ITEMS]
    ]
