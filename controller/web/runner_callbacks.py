"""The runner's side of a run: credentials, progress and the final result (DESIGN.md §6).

- `POST /runner/credentials`: a GitHub Actions run or Fly Machine trades its platform's OIDC token
  for its two callback tokens (docs/runners.md explains why tokens never travel in inputs).
- `POST /runner/progress` (multi-use token): upserts one step into `status.steps` by name and is
  the run's heartbeat (`status.lastProgressAt`).
- `POST /runner/result` (single-use token): records the outcome in `status.result`; the operator
  turns it into the terminal phase. The token is spent atomically in the store before the write
  and given back if the write fails, so exactly one result lands and none is lost.

All three answer 501 while RUNNER_TOKEN_SECRET is unset and 401 for a bad, expired or foreign token.
The API never changes a run's phase itself: the operator does, from what is recorded here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import jwt
from aiohttp import web
from pydantic import Field, ValidationError, field_validator

from controller import constants
from controller.clock import kube_timestamp
from controller.github import GitHubAppNotInstalled, GitHubError, GitHubNotFound
from controller.kube import DISPATCHES, RUNNER_SESSIONS
from controller.kube.client import OBJECT_NAME
from controller.kube.errors import ConflictError, KubeError, NotFoundError
from controller.metrics import RUNNER_CALLBACKS
from controller.resources import ProjectMappingSpec
from controller.resources.dispatch import (
    MAX_COST_USD,
    MAX_SUMMARY_CHARS,
    MAX_TOKENS,
    STOPPED_BY_THE_CONTROLLER,
    DispatchSpec,
    DispatchStatus,
    StepStatus,
    is_terminal,
)
from controller.resources.step_log import MAX_MESSAGE_CHARS, MAX_OUTPUT_BYTES, merged_steps
from controller.runners.credentials import claude_credentials
from controller.runners.identity import IdentityRejected, IdentityUnavailable, RecordedRun, identity_matches
from controller.runners.tokens import ALGORITHM as RUNNER_TOKEN_ALGORITHM
from controller.runners.tokens import (
    InvalidRunnerToken,
    TokenClaims,
    TokenPurpose,
    tokens_for_dispatch,
    verify_runner_token,
)
from controller.secrets import KubernetesSecretBackend, runner_environment
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.mappings import mappings_of
from controller.web.models import CamelModel
from controller.web.routing import Access, ApiRouter, read_body, respond
from controller.workflows import RUNNER_WORKFLOW_PATH

router = ApiRouter(tag="runner")
logger = logging.getLogger(__name__)

MAX_REPORTED_OUTPUT_BYTES = 64 * 1024
MAX_REPORTED_MESSAGE_CHARS = 16 * 1024
WRITE_ATTEMPTS = 5
NOT_STARTED_RETRY_SECONDS = 2


class ReportedStep(CamelModel):
    name: str = Field(min_length=1, max_length=128, description="The step's module id.")
    status: StepStatus = Field(description="pending, running, succeeded, failed or skipped.")
    started_at: datetime | None = Field(default=None, description="When the step started.")
    finished_at: datetime | None = Field(default=None, description="When the step finished.")
    elapsed_seconds: float | None = Field(default=None, ge=0, description="How long the step took so far.")
    message: str | None = Field(
        default=None,
        max_length=MAX_REPORTED_MESSAGE_CHARS,
        description=f"The step's last output line; the status keeps its first {MAX_MESSAGE_CHARS} characters.",
    )
    output: dict[str, Any] | None = Field(
        default=None,
        description=f"Structured output, at most {MAX_REPORTED_OUTPUT_BYTES // 1024} KiB as JSON; the status keeps "
        f"it up to {MAX_OUTPUT_BYTES // 1024} KiB, and a truncated preview beyond.",
    )

    @field_validator("output")
    @classmethod
    def _output_is_small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value)) > MAX_REPORTED_OUTPUT_BYTES:
            raise ValueError(f"output is larger than {MAX_REPORTED_OUTPUT_BYTES} bytes as JSON: report a summary")
        return value


class ProgressReport(CamelModel):
    step: ReportedStep | None = Field(default=None, description="The step to add or update; omit for a heartbeat.")


class ProgressAccepted(CamelModel):
    accepted: bool = Field(description="Always true.")
    steps: int = Field(description="How many steps the dispatch now has.")


class ReportedError(CamelModel):
    reason: str = Field(default="RunnerFailed", min_length=1, max_length=128, description="A CamelCase word.")
    message: str = Field(default="", max_length=8192, description="What failed and where.")


class ReportedUsage(CamelModel):
    input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, description="Input tokens, not cached.")
    output_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, description="Output tokens.")
    cache_read_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, description="Input tokens read from the cache.")
    cache_creation_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, description="Input tokens written to the cache.")
    cost_usd: float = Field(default=0.0, ge=0, le=MAX_COST_USD, description="The agent's own figure, in USD.")
    model: str | None = Field(default=None, min_length=1, max_length=128, description="The model that did the work.")


class RunResult(CamelModel):
    outcome: Literal["succeeded", "failed"] = Field(description="succeeded or failed.")
    pull_request_url: str | None = Field(default=None, max_length=2048, description="The PR the run opened.")
    pull_request_number: int | None = Field(default=None, ge=1, description="Its number.")
    error: ReportedError | None = Field(default=None, description="What failed and where, for a failed run.")
    usage: ReportedUsage | None = Field(default=None, description="Tokens and cost the coding agent reported.")
    summary: str | None = Field(
        default=None,
        max_length=MAX_SUMMARY_CHARS,
        description="What the run produced, in Markdown: a planning run's plan (the ticket gets it as a comment, "
        "the implementation run as its brief).",
    )
    work_in_progress_branch: str | None = Field(
        default=None,
        pattern=r"^ai-implement/wip/[a-z0-9][a-z0-9.-]*$",
        max_length=255,
        description="Where a run stopped midway (SIGTERM, maxJobMinutes) saved its work: ai-implement/wip/<dispatch>.",
    )

    @field_validator("pull_request_url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("pullRequestUrl must be an http(s) URL")
        return value


class ResultAccepted(CamelModel):
    accepted: bool = Field(description="Always true.")
    outcome: str = Field(description="The outcome recorded.")


class CredentialsRequest(CamelModel):
    dispatch: str = Field(
        min_length=1,
        max_length=253,
        pattern=f"^{OBJECT_NAME.pattern}$",
        description="The Dispatch name the run was started for (a Kubernetes object name).",
    )


class RunGitHubAccess(CamelModel):
    token: str = Field(description="An installation token for this one repository: contents and pull requests only.")
    expires_at: datetime = Field(description="When the token expires (an hour after it was minted).")
    api_url: str = Field(description="The GitHub REST API the token is for (GITHUB_API_URL of the controller).")
    repository: str = Field(description="owner/name: the only repository the token opens.")


class Credentials(CamelModel):
    progress_token: str | None = Field(description="For POST /runner/progress; none for a shadow run.")
    result_token: str | None = Field(description="For POST /runner/result; none for a shadow run.")
    expires_at: datetime | None = Field(description="When both tokens expire.")
    shadow: bool = Field(description="True for a shadow run, which reports nothing.")
    environment: dict[str, str] = Field(description="Credentials the run needs (Fly Machine runs only).")
    github: RunGitHubAccess | None = Field(
        default=None, description="The run's GitHub access; none for a shadow run or without a GitHub App."
    )


def _token_secret(context: WebContext) -> str:
    secret = context.settings.runner_token_secret
    if secret is None:
        raise ApiError(
            501, "callbacks_disabled", "runner callbacks are disabled: RUNNER_TOKEN_SECRET is not set on the controller"
        )
    return secret.get_secret_value()


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "token_missing", "send the token as `Authorization: Bearer <token>`")
    return token.strip()


async def claims_of_request(request: web.Request, purpose: TokenPurpose) -> TokenClaims:
    return await _claims_of_token(context_of(request), _bearer(request), purpose, purpose.value)


async def _claims_of_token(context: WebContext, token: str, purpose: TokenPurpose, endpoint: str) -> TokenClaims:
    secret = _token_secret(context)
    try:
        claims = verify_runner_token(secret, token, purpose, context.clock())
    except InvalidRunnerToken as error:
        RUNNER_CALLBACKS.labels(endpoint, "unauthorized").inc()
        raise ApiError(401, "token_invalid", str(error)) from None
    if claims.namespace != context.namespace:
        RUNNER_CALLBACKS.labels(endpoint, "unauthorized").inc()
        raise ApiError(401, "token_invalid", "the token belongs to another controller's namespace")
    return claims


async def dispatch_of_claims(context: WebContext, claims: TokenClaims, purpose: TokenPurpose) -> dict[str, Any]:
    """The token's Dispatch; a token for a deleted and recreated Dispatch of the same name is foreign."""
    try:
        dispatch = await context.kube.get(DISPATCHES, context.namespace, claims.dispatch_name)
    except NotFoundError:
        raise ApiError(410, "dispatch_gone", f"dispatch {claims.dispatch_name} no longer exists") from None
    if dispatch["metadata"]["uid"] != claims.dispatch_uid:
        RUNNER_CALLBACKS.labels(purpose.value, "unauthorized").inc()
        raise ApiError(401, "token_invalid", f"the token belongs to an earlier dispatch named {claims.dispatch_name}")
    return dispatch


async def _patch_with_retry(context: WebContext, name: str, build: Any) -> dict[str, Any]:
    """Read, build a status patch from what was read, write with its resourceVersion; retry on conflicts."""
    for _ in range(WRITE_ATTEMPTS):
        dispatch = await context.kube.get(DISPATCHES, context.namespace, name)
        status_patch = build(dispatch)
        body = {"metadata": {"resourceVersion": dispatch["metadata"]["resourceVersion"]}, "status": status_patch}
        try:
            patched: dict[str, Any] = await context.kube.merge_patch(
                DISPATCHES, context.namespace, name, body, subresource="status", field_manager=constants.FIELD_MANAGER
            )
        except ConflictError:
            continue
        return patched
    raise ApiError(503, "busy", f"dispatch {name} kept changing while the callback was written: retry")


@router.route(
    "POST",
    "/runner/progress",
    summary="Report one pipeline step's progress (multi-use token); also the run's heartbeat",
    body=ProgressReport,
    access=Access.OWN_SECRET,
    responses={202: ProgressAccepted, 400: None, 401: None, 409: None, 410: None, 422: None, 501: None},
)
async def report_progress(request: web.Request) -> web.Response:
    context = context_of(request)
    claims = await claims_of_request(request, TokenPurpose.PROGRESS)
    if not await context.store.is_runner_token_valid(claims.jti, context.clock()):
        RUNNER_CALLBACKS.labels("progress", "unauthorized").inc()
        raise ApiError(401, "token_invalid", "the token is unknown, revoked or expired")
    report = await read_body(request, ProgressReport)
    dispatch = await dispatch_of_claims(context, claims, TokenPurpose.PROGRESS)
    if is_terminal((dispatch.get("status") or {}).get("phase")):
        RUNNER_CALLBACKS.labels("progress", "rejected").inc()
        raise ApiError(409, "run_ended", f"dispatch {claims.dispatch_name} has already ended")

    def build(current: Mapping[str, Any]) -> dict[str, Any]:
        status = current.get("status") or {}
        patch: dict[str, Any] = {"lastProgressAt": kube_timestamp(context.clock())}
        if report.step is not None:
            reported = report.step.model_dump(mode="json", by_alias=True, exclude_none=True)
            steps, omitted = merged_steps(status.get("steps") or [], reported, int(status.get("stepsOmitted") or 0))
            patch["steps"] = steps
            if omitted:
                patch["stepsOmitted"] = omitted
        return patch

    patched = await _patch_with_retry(context, claims.dispatch_name, build)
    RUNNER_CALLBACKS.labels("progress", "accepted").inc()
    steps = len((patched.get("status") or {}).get("steps") or [])
    return respond(ProgressAccepted(accepted=True, steps=steps), status=202)


@router.route(
    "POST",
    "/runner/result",
    summary="Report the run's final outcome (single-use token)",
    body=RunResult,
    access=Access.OWN_SECRET,
    responses={200: ResultAccepted, 400: None, 401: None, 409: None, 410: None, 422: None, 501: None, 503: None},
)
async def report_result(request: web.Request) -> web.Response:
    context = context_of(request)
    claims = await claims_of_request(request, TokenPurpose.RESULT)
    result = await read_body(request, RunResult)
    dispatch = await dispatch_of_claims(context, claims, TokenPurpose.RESULT)
    status = dispatch.get("status") or {}
    if status.get("result") is not None or not _takes_a_result(status):
        RUNNER_CALLBACKS.labels("result", "rejected").inc()
        raise ApiError(409, "result_recorded", f"dispatch {claims.dispatch_name} already has its result")
    if result.pull_request_url is not None:
        await _check_pull_request(context, DispatchSpec.model_validate(dispatch["spec"]), result)
    if not await context.store.consume_runner_token(claims.jti, context.clock()):
        RUNNER_CALLBACKS.labels("result", "rejected").inc()
        raise ApiError(409, "token_spent", "this result token was already used: a dispatch has one result")
    recorded = {
        "outcome": result.outcome,
        "reportedAt": kube_timestamp(context.clock()),
        **({"pullRequestUrl": result.pull_request_url} if result.pull_request_url else {}),
        **({"pullRequestNumber": result.pull_request_number} if result.pull_request_number else {}),
    }
    if result.outcome == "failed":
        error = result.error or ReportedError(message="the runner reported a failure without details")
        recorded["error"] = error.model_dump(by_alias=True)
    if result.usage is not None:
        recorded["usage"] = result.usage.model_dump(by_alias=True, exclude_none=True)
    if result.summary:
        recorded["summary"] = result.summary
    if result.work_in_progress_branch:
        recorded["workInProgressBranch"] = result.work_in_progress_branch

    def build(current: Mapping[str, Any]) -> dict[str, Any]:
        status = current.get("status") or {}
        if status.get("result") is not None or not _takes_a_result(status):
            raise ApiError(409, "result_recorded", f"dispatch {claims.dispatch_name} already has its result")
        return {"result": recorded, "lastProgressAt": kube_timestamp(context.clock())}

    try:
        await _patch_with_retry(context, claims.dispatch_name, build)
    except (KubeError, ApiError) as error:
        if not (isinstance(error, ApiError) and error.code == "result_recorded"):
            await context.store.release_runner_token(claims.jti)
        raise
    RUNNER_CALLBACKS.labels("result", "accepted").inc()
    return respond(ResultAccepted(accepted=True, outcome=result.outcome))


async def _check_pull_request(context: WebContext, spec: DispatchSpec, result: RunResult) -> None:
    """A reported pull request must be one the App opened in the mapping's repository, as GitHub says.

    A run's word is not enough: its URL becomes the ticket's link, the tracked pull request and the
    target of later review runs. Refused with 422 (the token is not spent), or 503 while GitHub is down.
    """
    url = str(result.pull_request_url)
    mapping = next((view for view in mappings_of(context) if view.team_key == spec.mapping), None)
    if mapping is None:
        raise ApiError(409, "mapping_gone", f"the mapping of team {spec.mapping} no longer exists")
    owner, repo = mapping.spec.source.owner, mapping.spec.source.repo
    number = pull_request_number_in(url, f"{owner}/{repo}")
    if number is None:
        raise _foreign_pull_request(f"{url} is not a pull request of {owner}/{repo}")
    if result.pull_request_number is not None and result.pull_request_number != number:
        raise _foreign_pull_request(f"pullRequestNumber {result.pull_request_number} is not the number in {url}")
    if context.github is None:
        raise ApiError(
            503,
            "github_not_configured",
            "a reported pull request is checked through the GitHub App: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY",
        )
    try:
        pull = await context.github.get_pull_request(owner, repo, number)
    except GitHubNotFound:
        raise _foreign_pull_request(f"{owner}/{repo} has no pull request #{number}") from None
    except GitHubError as error:
        raise ApiError(
            503, "github_unavailable", f"GitHub is unavailable: {error}", headers={"Retry-After": "5"}
        ) from None
    if pull.html_url and pull.html_url.rstrip("/") != url.rstrip("/"):
        raise _foreign_pull_request(f"{url} is not where GitHub shows {owner}/{repo}#{number} ({pull.html_url})")
    bot = await _app_bot(context, f"{owner}/{repo}")
    author = pull.user
    if author is None or author.type != "Bot" or (bot is not None and author.login.lower() != bot.lower()):
        who = author.login if author is not None else "someone unknown"
        raise _foreign_pull_request(f"{owner}/{repo}#{number} was opened by {who}, not by the App")


def _foreign_pull_request(message: str) -> ApiError:
    RUNNER_CALLBACKS.labels("result", "rejected").inc()
    return ApiError(422, "foreign_pull_request", message)


def pull_request_number_in(url: str, repository: str) -> int | None:
    """The number of `https://<host>/<owner>/<repo>/pull/<n>` when it names `repository`; else None (pure)."""
    parts = url.split("://", 1)[-1].split("/")
    if len(parts) != 5 or parts[3] != "pull" or not parts[4].isdigit():
        return None
    if f"{parts[1]}/{parts[2]}".lower() != repository.lower():
        return None
    return int(parts[4])


def _takes_a_result(status: Mapping[str, Any]) -> bool:
    """A running run; or one the controller ended (timed out, session destroyed) that is not closed out yet,
    whose runner reports the work it saved on its way out (the phase stays what the controller wrote)."""
    phase = status.get("phase")
    if not is_terminal(phase):
        return True
    return phase in STOPPED_BY_THE_CONTROLLER and not status.get("closedAt")


@router.route(
    "POST",
    "/runner/credentials",
    summary="Trade a GitHub Actions or Fly Machine OIDC token for the run's callback tokens",
    body=CredentialsRequest,
    access=Access.OWN_SECRET,
    responses={200: Credentials, 400: None, 401: None, 409: None, 410: None, 422: None, 501: None, 503: None},
)
async def exchange_credentials(request: web.Request) -> web.Response:
    context = context_of(request)
    _token_secret(context)  # 501 before anything else while callbacks are off
    token = _bearer(request)
    body = await read_body(request, CredentialsRequest)
    if _looks_like_runner_token(token):
        return await _local_credentials(context, token, body.dispatch)
    if context.identity is None:
        raise ApiError(
            501, "exchange_disabled", "the credentials exchange needs RUNNER_CALLBACK_BASE_URL (its audience)"
        )
    try:
        identity = await context.identity.verify(token)
    except IdentityRejected as error:
        RUNNER_CALLBACKS.labels("credentials", "unauthorized").inc()
        raise ApiError(401, "identity_rejected", str(error)) from None
    except IdentityUnavailable as error:
        raise ApiError(503, "identity_unavailable", str(error)) from None
    try:
        dispatch = await context.kube.get(DISPATCHES, context.namespace, body.dispatch)
    except NotFoundError:
        raise _not_this_run(body.dispatch, "no such Dispatch") from None
    status = DispatchStatus.model_validate(dispatch.get("status") or {})
    if is_terminal(status.phase):
        raise _not_this_run(body.dispatch, "the run has ended")
    if status.runner is None or status.deadline_at is None:
        raise _not_started(body.dispatch)
    if identity.platform == "fly-machines" and dispatch["spec"].get("runnerMode") == "shadow" and status.shadow is None:
        raise _not_started(body.dispatch)
    recorded = await _recorded_run(context, body.dispatch, str(dispatch["spec"].get("mapping", "")), status)
    matches, shadow, why = identity_matches(identity, recorded)
    if not matches:
        raise _not_this_run(body.dispatch, why)
    RUNNER_CALLBACKS.labels("credentials", "accepted").inc()
    if shadow:
        return respond(
            Credentials(progress_token=None, result_token=None, expires_at=None, shadow=True, environment={})
        )
    environment = {}
    if identity.platform == "fly-machines":
        environment = await _fly_run_environment(context, str(dispatch["spec"]["mapping"]))
    return respond(await _run_credentials(context, dispatch, status.deadline_at, environment))


async def _run_credentials(
    context: WebContext, dispatch: Mapping[str, Any], deadline: datetime, environment: dict[str, str]
) -> Credentials:
    tokens = tokens_for_dispatch(_token_secret(context), dispatch["metadata"], context.namespace, deadline)
    return Credentials(
        progress_token=tokens.progress.token,
        result_token=tokens.result.token,
        expires_at=tokens.result.expires_at,
        shadow=False,
        environment=environment,
        github=await _github_access(context, str(dispatch["spec"]["mapping"])),
    )


def _looks_like_runner_token(token: str) -> bool:
    """A local container proves itself with the progress token it was started with (HS256), not with a
    platform's OIDC token (RS256); a forged header only leads to the stricter check of our own tokens."""
    try:
        return jwt.get_unverified_header(token).get("alg") == RUNNER_TOKEN_ALGORITHM
    except jwt.PyJWTError:
        return False


async def _local_credentials(context: WebContext, token: str, dispatch_name: str) -> web.Response:
    """What a run holding its progress token (a local Docker run) still needs: its GitHub access."""
    claims = await _claims_of_token(context, token, TokenPurpose.PROGRESS, "credentials")
    if claims.dispatch_name != dispatch_name:
        RUNNER_CALLBACKS.labels("credentials", "unauthorized").inc()
        raise ApiError(401, "identity_mismatch", f"the token belongs to dispatch {claims.dispatch_name}")
    if not await context.store.is_runner_token_valid(claims.jti, context.clock()):
        RUNNER_CALLBACKS.labels("credentials", "unauthorized").inc()
        raise ApiError(401, "token_invalid", "the token is unknown, revoked or expired")
    dispatch = await dispatch_of_claims(context, claims, TokenPurpose.PROGRESS)
    status = DispatchStatus.model_validate(dispatch.get("status") or {})
    if is_terminal(status.phase):
        raise ApiError(409, "run_ended", f"dispatch {dispatch_name} has already ended")
    if status.deadline_at is None:
        raise _not_started(dispatch_name)
    RUNNER_CALLBACKS.labels("credentials", "accepted").inc()
    return respond(await _run_credentials(context, dispatch, status.deadline_at, {}))


async def _github_access(context: WebContext, team_key: str) -> RunGitHubAccess | None:
    """A token for the mapping's repository alone, minted for this run (never the App's own)."""
    mapping = _mapping_spec(context, team_key)
    if context.github is None or mapping is None:
        return None
    owner, repo = mapping.source.owner, mapping.source.repo
    try:
        minted = await context.github.repository_token(owner, repo)
    except GitHubAppNotInstalled:
        raise ApiError(409, "app_not_installed", f"the GitHub App is not installed on {owner}/{repo}") from None
    except GitHubError as error:
        if error.status is not None and error.status < 500 and error.status != 429:
            raise ApiError(502, "github_refused", f"GitHub refused a token for {owner}/{repo}: {error}") from None
        raise ApiError(
            503, "github_unavailable", f"GitHub is unavailable: {error}", headers={"Retry-After": "5"}
        ) from None
    return RunGitHubAccess(
        token=minted.token.get_secret_value(),
        expires_at=minted.expires_at,
        api_url=context.github.base_url.rstrip("/"),
        repository=f"{owner}/{repo}",
    )


def _not_this_run(dispatch: str, why: str) -> ApiError:
    """The one answer for an unknown, ended or foreign Dispatch: the caller learns neither which nor
    where the run is recorded (the reason is logged for the operator)."""
    RUNNER_CALLBACKS.labels("credentials", "unauthorized").inc()
    logger.warning("refused a credentials exchange for dispatch %s: %s", dispatch, why)
    return ApiError(401, "not_this_run", f"this identity is not the run of dispatch {dispatch}")


def _not_started(dispatch: str) -> ApiError:
    """The run asked before the controller recorded it (it is told to ask again shortly)."""
    return ApiError(
        409,
        "not_started",
        f"dispatch {dispatch} is still starting: retry in {NOT_STARTED_RETRY_SECONDS} s",
        headers={"Retry-After": str(NOT_STARTED_RETRY_SECONDS)},
    )


async def _recorded_run(context: WebContext, name: str, team_key: str, status: DispatchStatus) -> RecordedRun:
    """Where the run lives, and for GitHub Actions the only workflow, branch and actor that speak for it."""
    repo, app = "", None
    try:
        session = await context.kube.get(RUNNER_SESSIONS, context.namespace, name)
        repo = str(session["spec"].get("repo") or "")
        app = session["spec"].get("app")
    except NotFoundError:
        pass
    workflow_ref = actor = None
    if status.runner is not None and status.runner.backend == "github-actions":
        mapping = next((view for view in mappings_of(context) if view.team_key == team_key), None)
        branch = mapping.spec.source.default_branch if mapping is not None else "\0no mapping"
        workflow_ref = f"{repo}/{RUNNER_WORKFLOW_PATH}@refs/heads/{branch}"
        actor = await _app_bot(context, repo)
    return RecordedRun(
        repo=repo,
        runner_backend=status.runner.backend if status.runner else None,
        runner_id=status.runner.id if status.runner else None,
        fly_app=app,
        shadow_id=status.shadow.id if status.shadow else None,
        workflow_ref=workflow_ref,
        actor=actor,
    )


async def _app_bot(context: WebContext, repo: str) -> str | None:
    """The App's bot account on the repository (None without the App, or when GitHub does not say)."""
    owner, _, name = repo.partition("/")
    if context.github is None or not name:
        return None
    try:
        slug = (await context.github.installation(owner, name)).app_slug
    except GitHubAppNotInstalled:
        return "\0the App is not installed"  # no run there can be the App's
    except GitHubError as error:
        raise ApiError(
            503, "github_unavailable", f"GitHub is unavailable: {error}", headers={"Retry-After": "5"}
        ) from None
    return f"{slug}[bot]" if slug else None


async def _fly_run_environment(context: WebContext, team_key: str) -> dict[str, str]:
    """What a Fly Machine cannot be given in its config, where every machine of the app could read it:
    its team's runner secrets and the global ones (never another team's), and Claude's credentials."""
    environment: dict[str, str] = {}
    if isinstance(context.secrets, KubernetesSecretBackend):
        team_keys = [str((item.get("spec") or {}).get("teamKey")) for item in context.mappings.items()]
        environment |= runner_environment(await context.secrets.values(), team_key, team_keys)
    mapping = _mapping_spec(context, team_key)
    return environment | (claude_credentials(context.settings, mapping) if mapping is not None else {})


def _mapping_spec(context: WebContext, team_key: str) -> ProjectMappingSpec | None:
    for item in context.mappings.items():
        spec = item.get("spec") or {}
        if spec.get("teamKey") == team_key:
            try:
                return ProjectMappingSpec.model_validate(spec)
            except ValidationError:
                return None
    return None
