"""POST /trigger/gap-fill: an `/ai-implement` comment on a bot-opened pull request starts a gap-fill run.

The synced `comment-trigger.yml` posts the comment's ids (the body `GapFillTrigger` describes) with
`Authorization: Bearer <the repository's GAP_FILL_TRIGGER_SECRET>`, the secret derived for that
repository from the controller's key (`controller/github/trigger_secrets.py`), compared in constant
time; 503 while the key is unset, 401 on a mismatch. The call proves only that a workflow of that
repository made it, so the comment itself is read back through the GitHub App: it must be on that
pull request, start with `/ai-implement`, and be written by someone who can push (403 otherwise).
Each comment starts at most one run (its id is remembered like a webhook delivery id; a repeat
answers 200 `duplicate`); a pull request has one gap-fill run at a time and at most
GAP_FILL_MAX_RUNS; and a gap-fill run takes a slot of the mapping's concurrency cap like any run
(409 when any of these says no). The Dispatch is named like every Dispatch
(`<issue>-gap-fill-<n>`); the operator reconciles it like any other.
"""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web
from pydantic import Field

from controller import constants
from controller.config import RunnerMode, effective_execution_mode
from controller.github import GitHubClient, GitHubError
from controller.github.trigger_secrets import repository_trigger_secret
from controller.github.webhooks import GAP_FILL_COMMAND, WRITE_ASSOCIATIONS
from controller.kube import DISPATCHES
from controller.kube.errors import AlreadyExistsError, KubeError
from controller.resources import ProjectMappingSpec
from controller.resources.dispatch import (
    DispatchSpec,
    IssueRef,
    PullRequestRef,
    is_terminal,
    label_value,
    printable,
    pull_request_dispatch,
)
from controller.store import TrackedPullRequest, runner_mode_in_force
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.models import CamelModel
from controller.web.routing import Access, ApiRouter, read_body, respond

router = ApiRouter(tag="webhooks")

SOURCE = "gap-fill"
NAME_ATTEMPTS = 5


class GapFillTrigger(CamelModel):
    repository: str = Field(pattern=r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$", description="owner/name.")
    pull_request_number: int = Field(ge=1, description="The pull request commented on.")
    comment_id: int = Field(ge=1, description="The comment's id: one run per comment, read back through the App.")
    comment_body: str = Field(
        max_length=65536, description="The comment as the workflow saw it; the one GitHub has is what counts."
    )
    sender: str = Field(min_length=1, max_length=100, description="Who commented.")


class GapFillAck(CamelModel):
    status: str = Field(description="accepted (a gap-fill run was dispatched) or duplicate (this comment's was).")
    dispatch: str | None = Field(default=None, description="The Dispatch started for the comment.")


def _bearer(request: web.Request) -> str:
    """The bearer token, before the body is read: a call without one learns nothing more."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "bad_token", "send `Authorization: Bearer <the repository's GAP_FILL_TRIGGER_SECRET>`")
    return token.strip()


def _check_bearer(context: WebContext, token: str, repository: str) -> None:
    key = context.settings.gap_fill_trigger_secret
    if key is None:
        raise ApiError(503, "trigger_disabled", "the gap-fill trigger is disabled: GAP_FILL_TRIGGER_SECRET is not set")
    expected = repository_trigger_secret(key.get_secret_value(), repository)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(
            401,
            "bad_token",
            f"the bearer is not {repository}'s GAP_FILL_TRIGGER_SECRET (`ai-implement gap-fill-secret "
            f"{repository}` prints it)",
        )


def _github(context: WebContext) -> GitHubClient:
    if context.github is None:
        raise ApiError(
            503,
            "github_not_configured",
            "the gap-fill trigger reads each comment back through the GitHub App: set GITHUB_APP_ID and "
            "GITHUB_APP_PRIVATE_KEY",
        )
    return context.github


@router.route(
    "POST",
    "/trigger/gap-fill",
    summary="Start a gap-fill run for an /ai-implement comment on a bot-opened pull request",
    description="Called by the synced comment-trigger.yml with a bearer token equal to the repository's "
    "GAP_FILL_TRIGGER_SECRET (derived for it from the controller's; `ai-implement gap-fill-secret OWNER/REPO`).",
    body=GapFillTrigger,
    access=Access.OWN_SECRET,
    responses={
        200: GapFillAck,
        202: GapFillAck,
        400: None,
        401: None,
        403: None,
        404: None,
        409: None,
        422: None,
        502: None,
        503: None,
    },
)
async def trigger_gap_fill(request: web.Request) -> web.Response:
    context = context_of(request)
    token = _bearer(request)
    trigger = await read_body(request, GapFillTrigger)
    _check_bearer(context, token, trigger.repository)
    github = _github(context)
    pull = await context.store.tracked_pull_request(trigger.repository, trigger.pull_request_number)
    if pull is None:
        raise ApiError(
            404,
            "not_tracked",
            f"{trigger.repository}#{trigger.pull_request_number} is not a pull request AI-Implement opened",
        )
    if pull.state != "open":
        raise ApiError(409, "pull_request_closed", f"{pull.repo}#{pull.number} is {pull.state}")
    mapping = _mapping_object(context, pull.team_key)
    if mapping is None:
        raise ApiError(409, "mapping_gone", f"the mapping of team {pull.team_key} no longer exists")
    comment_key = f"{pull.repo}#{pull.number}/{trigger.comment_id}"
    if not await context.store.first_seen_delivery(SOURCE, comment_key, context.clock()):
        return respond(GapFillAck(status="duplicate"))
    try:
        await _verify_comment(github, trigger)
        spec = ProjectMappingSpec.model_validate(mapping["spec"])
        async with _lock_of(context, pull.team_key):  # the checks and the create as one step per mapping
            await _check_room(context, pull, spec)
            name = await _create_dispatch(context, pull, mapping)
    except Exception:
        await context.store.forget_delivery(SOURCE, comment_key)  # the workflow's retry may try again
        raise
    return respond(GapFillAck(status="accepted", dispatch=name), status=202)


async def _verify_comment(github: GitHubClient, trigger: GapFillTrigger) -> None:
    """The comment as GitHub has it: on this pull request, a command, by someone who can push."""
    owner, _, repo = trigger.repository.partition("/")
    where = f"{trigger.repository}#{trigger.pull_request_number}"
    try:
        comment = await github.get_issue_comment(owner, repo, trigger.comment_id)
    except GitHubError as error:
        raise ApiError(502, "github_error", f"GitHub did not show comment {trigger.comment_id}: {error}") from None
    if comment is None:
        raise ApiError(404, "no_comment", f"{trigger.repository} has no comment {trigger.comment_id}")
    on = f"/repos/{trigger.repository}/issues/{trigger.pull_request_number}".lower()
    if not comment.issue_url.lower().endswith(on):
        raise ApiError(403, "other_pull_request", f"comment {trigger.comment_id} is not on {where}")
    if not comment.body.lstrip().startswith(GAP_FILL_COMMAND):
        raise ApiError(403, "not_a_command", f"comment {trigger.comment_id} does not start with {GAP_FILL_COMMAND}")
    author = comment.user.login if comment.user is not None else "someone"
    if comment.user is None or comment.user.type == "Bot" or comment.author_association not in WRITE_ASSOCIATIONS:
        raise ApiError(
            403,
            "cannot_push",
            f"{author} ({comment.author_association.lower()}) cannot push to {trigger.repository}: only the "
            "repository's owners, members and collaborators start gap-fill runs",
        )


def _lock_of(context: WebContext, team_key: str) -> asyncio.Lock:
    return context.gap_fill_locks.setdefault(team_key, asyncio.Lock())


async def _check_room(context: WebContext, pull: TrackedPullRequest, spec: ProjectMappingSpec) -> None:
    """One gap-fill run at a time per pull request, GAP_FILL_MAX_RUNS in all, and a free slot of the cap."""
    if spec.paused:
        raise ApiError(409, "mapping_paused", f"the mapping of team {spec.team_key} is paused")
    done = [
        entry
        for entry in await context.store.dispatch_log_for_issues([pull.issue_id])
        if entry.kind == "gap-fill" and (entry.pull_request_url or pull.url) == pull.url
    ]
    limit = context.settings.gap_fill_max_runs
    if len(done) >= limit:
        raise ApiError(
            409, "gap_fill_limit", f"{pull.repo}#{pull.number} has had its {limit} gap-fill runs (GAP_FILL_MAX_RUNS)"
        )
    selector = f"{constants.LABEL_TEAM}={label_value(spec.team_key)}"
    try:
        items = (await context.kube.list(DISPATCHES, context.namespace, label_selector=selector)).items
    except KubeError as error:
        raise ApiError(503, "kubernetes_unavailable", f"the Dispatches could not be listed: {error}") from None
    running = [item for item in items if not is_terminal((item.get("status") or {}).get("phase"))]
    for item in running:
        other = DispatchSpec.model_validate(item["spec"])
        if other.kind == "gap-fill" and other.pull_request is not None and other.pull_request.number == pull.number:
            raise ApiError(
                409,
                "gap_fill_running",
                f"{item['metadata']['name']} is already filling gaps on {pull.repo}#{pull.number}: comment again "
                "when it has finished",
            )
    cap = spec.capacity.max_in_progress_ai_issues
    if len(running) >= cap:
        raise ApiError(
            409,
            "at_capacity",
            f"team {spec.team_key} has {len(running)} runs in progress, its cap is {cap}: comment again later",
        )


def _mapping_object(context: WebContext, team_key: str) -> dict[str, object] | None:
    for item in context.mappings.items():
        if (item.get("spec") or {}).get("teamKey") == team_key:
            return item
    return None


async def _create_dispatch(context: WebContext, pull: TrackedPullRequest, mapping: dict[str, object]) -> str:
    """The next gap-fill Dispatch of the ticket; a number taken meanwhile moves on to the next."""
    spec = ProjectMappingSpec.model_validate(mapping["spec"])
    metadata = mapping["metadata"]
    assert isinstance(metadata, dict)
    runner_mode = (await runner_mode_in_force(context.store, context.settings)).mode
    mode = (
        "shadow"
        if runner_mode is RunnerMode.SHADOW and spec.provider.name != "bedrock"
        else effective_execution_mode(runner_mode, spec.runner.execution_mode, spec.provider.name)
    )
    image = spec.runner.session_image or context.settings.session_image
    earlier = [
        entry.iteration
        for entry in await context.store.dispatch_log_for_issues([pull.issue_id])
        if entry.kind == "gap-fill"
    ]
    iteration = max(earlier, default=0) + 1
    issue = IssueRef(
        provider=pull.provider,
        id=pull.issue_id,
        identifier=pull.identifier,
        title=printable(pull.title, 1024),
        url=printable(pull.issue_url, 2048),
    )
    for _ in range(NAME_ATTEMPTS):
        body = pull_request_dispatch(
            namespace=context.namespace,
            mapping_name=str(metadata["name"]),
            mapping_uid=str(metadata["uid"]),
            issue=issue,
            team_key=pull.team_key,
            kind="gap-fill",
            iteration=iteration,
            runner_mode=mode,
            session_image=image,
            pull_request=PullRequestRef(number=pull.number, url=pull.url, head_branch=pull.head_branch),
            label=label_value,
        )
        try:
            await context.kube.create(DISPATCHES, context.namespace, body)
        except AlreadyExistsError:
            iteration += 1
            continue
        name = str(body["metadata"]["name"])
        await context.store.log_pull_request_dispatch(
            pull,
            kind="gap-fill",
            iteration=iteration,
            runner_mode=mode,
            session_image=image,
            dispatch_name=name,
            now=context.clock(),
        )
        return name
    raise ApiError(409, "busy", f"no free gap-fill number for {pull.identifier}: try again")
