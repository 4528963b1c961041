"""POST /api/github/webhook: review feedback and merges of the pull requests runs opened.

Verified like every webhook (X-Hub-Signature-256 `sha256=<hex HMAC-SHA256>` over the exact bytes with
GITHUB_WEBHOOK_SECRET, 503 while unset, 401 otherwise); X-GitHub-Delivery is required (400 without)
and each is accepted once. For a tracked pull request, reviews, review comments and conversation
comments are recorded as feedback for the next review run, once per GitHub id, and only feedback
from people who can push is acted on (the rest is recorded with the reason and never reaches the
agent); the first close records the pull request as merged or closed. The active operator acts on
both. Everything else is acknowledged with 202 and ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from controller.github.webhooks import EventKind, PullRequestEvent, read_delivery
from controller.kube import DISPATCHES
from controller.kube.errors import NotFoundError
from controller.metrics import WEBHOOK_EVENTS
from controller.resources.dispatch import DispatchSpec, is_terminal
from controller.store.vocabulary import PullRequestState
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.routing import Access, ApiRouter, respond
from controller.web.signed_webhooks import WebhookAck, secret_or_503, verified_body

router = ApiRouter(tag="webhooks")
logger = logging.getLogger(__name__)

SOURCE = "github"


@router.route(
    "POST",
    "/api/github/webhook",
    summary="Receive GitHub webhook deliveries (reviews, review comments, PR comments, closed PRs)",
    description="Signed with X-Hub-Signature-256 (sha256= hex HMAC-SHA256 of the body with "
    "GITHUB_WEBHOOK_SECRET); X-GitHub-Delivery ids are accepted once.",
    responses={200: WebhookAck, 202: WebhookAck, 400: None, 401: None, 503: None},
    access=Access.OWN_SECRET,
)
async def github_webhook(request: web.Request) -> web.Response:
    context = context_of(request)
    secret = secret_or_503(context.settings.github_webhook_secret, "GITHUB_WEBHOOK_SECRET")
    body = await verified_body(request, SOURCE, secret, request.headers.get("X-Hub-Signature-256"), prefix="sha256=")
    delivery = request.headers.get("X-GitHub-Delivery", "").strip()
    if not delivery:
        raise ApiError(400, "missing_delivery_id", "X-GitHub-Delivery is required: GitHub sends it with every delivery")
    if not await context.store.first_seen_delivery(SOURCE, delivery, context.clock()):
        WEBHOOK_EVENTS.labels(SOURCE, "replay").inc()
        return respond(WebhookAck(status="duplicate"))
    try:
        return await _handle(context, request.headers.get("X-GitHub-Event", ""), body)
    except Exception:  # the work failed: let GitHub's redelivery do it instead of calling it a replay
        await context.store.forget_delivery(SOURCE, delivery)
        raise


async def _handle(context: WebContext, event_name: str, body: dict[str, Any]) -> web.Response:
    event = read_delivery(event_name, body)
    if event.kind is EventKind.PING:
        WEBHOOK_EVENTS.labels(SOURCE, "accepted").inc()
        return respond(WebhookAck(status="accepted"))
    if event.kind is EventKind.IGNORED:
        return _ignored()
    if event.kind is EventKind.OPENED:
        return await _opened(context, event)
    tracked = await context.store.tracked_pull_request(event.repo, event.number)
    if tracked is None:
        return _ignored()
    if not await _record(context, event):
        WEBHOOK_EVENTS.labels(SOURCE, "replay").inc()
        return respond(WebhookAck(status="duplicate", ticket=tracked.identifier))
    if event.refused:
        logger.info("feedback on %s#%d not acted on: %s", event.repo, event.number, event.refused)
        return _ignored()
    WEBHOOK_EVENTS.labels(SOURCE, "accepted").inc()
    return respond(WebhookAck(status="accepted", ticket=tracked.identifier), status=202)


async def _record(context: WebContext, event: PullRequestEvent) -> bool:
    """False when this was recorded before: the same feedback, or a pull request already closed."""
    now = context.clock()
    if event.kind is EventKind.CLOSED:
        state: PullRequestState = "merged" if event.merged else "closed"
        return await context.store.close_pull_request(event.repo, event.number, now=now, state=state)
    assert event.feedback_kind is not None
    recorded = await context.store.record_review_feedback(
        repo=event.repo,
        number=event.number,
        kind=event.feedback_kind,
        author=event.author,
        body=event.body,
        url=event.url,
        received_at=now,
        github_id=event.feedback_id,
        ignored_reason=event.refused or None,
    )
    return recorded is not None


async def _opened(context: WebContext, event: PullRequestEvent) -> web.Response:
    """A pull request a run of ours opened, seen before (or instead of) the run's result: follow it now."""
    if await context.store.tracked_pull_request(event.repo, event.number) is not None or event.dispatch_name is None:
        return _ignored()
    try:
        dispatch = await context.kube.get(DISPATCHES, context.namespace, event.dispatch_name)
    except NotFoundError:
        return _ignored()
    spec = DispatchSpec.model_validate(dispatch["spec"])
    if not _repo_of_mapping(context, spec.mapping, event.repo):
        return _ignored()
    await context.store.track_pull_request(
        repo=event.repo,
        number=event.number,
        url=event.url,
        head_branch=event.head_branch,
        issue_id=spec.issue.id,
        identifier=spec.issue.identifier,
        title=spec.issue.title,
        issue_url=spec.issue.url,
        team_key=spec.mapping,
        provider=spec.issue.provider,
        job_status="completed" if is_terminal((dispatch.get("status") or {}).get("phase")) else "running",
        iteration=spec.iteration,
        dispatch_name=event.dispatch_name,
        now=context.clock(),
    )
    WEBHOOK_EVENTS.labels(SOURCE, "accepted").inc()
    return respond(WebhookAck(status="accepted", ticket=spec.issue.identifier), status=202)


def _repo_of_mapping(context: WebContext, team_key: str, repo: str) -> bool:
    """Whether the Dispatch's mapping targets this repository: a marker copied elsewhere proves nothing."""
    for item in context.mappings.items():
        spec = item.get("spec") or {}
        if spec.get("teamKey") == team_key:
            source = spec.get("source") or {}
            return f"{source.get('owner')}/{source.get('repo')}".lower() == repo.lower()
    return False


def _ignored() -> web.Response:
    WEBHOOK_EVENTS.labels(SOURCE, "ignored").inc()
    return respond(WebhookAck(status="ignored"), status=202)
