"""Workflow sync, template status and the Models & providers panel (docs/workflows.md).

Syncing reads and writes the target repository through the GitHub App (`WebContext.github`) and
answers 503 without it. The two listings never call GitHub: they answer from the repository checks
the operator's leader stores (`controller.workflows.checks`), each row with the time of its check,
so that they take as long for 1,000 mappings as reading 1,000 rows. A repository that could not be
read, or not yet, is reported in its rows, never as a failure of the whole list.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal

from aiohttp import web
from pydantic import Field

from controller.config import effective_execution_mode
from controller.github import GitHubClient, GitHubError
from controller.resources.project_mapping import TemplateState
from controller.store import RepositoryCheck
from controller.web.audit import actor_of, record_change_by
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError, not_found
from controller.web.mappings import MappingView, mappings_of, team_key_of
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, respond
from controller.web.runner_mode import resolved_runner_mode
from controller.workflows import (
    FIRST_CHECK_WITHIN,
    NOT_CHECKED_YET,
    PLANNING_PROMPT_PATH,
    RECHECK_EVERY,
    SYNC_BRANCH,
    TEMPLATE_VERSION,
    WORKFLOW_PROMPT_PATH,
    FileState,
    ModelsRow,
    RepositoryKey,
    SyncOutcome,
    WorkflowSync,
    WorkflowSyncError,
    model_choices_of,
    models_kpis,
    models_row,
    repository_key,
    template_status_of,
    unreadable_check,
)

router = ApiRouter(tag="workflows")

GITHUB_NOT_CONFIGURED: Final = (
    "the GitHub App is not configured: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY to sync workflows and read "
    "target repositories"
)


class SyncWorkflowsResult(CamelModel):
    team_key: str
    repo: str = Field(description="owner/name of the target repository.")
    outcome: SyncOutcome = Field(
        description="opened (a new pull request), updated (the open one) or current (nothing differs; no pull request)."
    )
    created: bool = Field(description="Whether this call opened the pull request.")
    pull_request_number: int | None
    pull_request_url: str | None
    branch: str = Field(description=f"The sync branch, always {SYNC_BRANCH}.")
    changed_files: list[str] = Field(description="The synced files that differ from the default branch.")
    template_version: int


class TemplateStatusRow(CamelModel):
    team_key: str
    repo: str
    state: TemplateState = Field(
        description="current, stale (a file differs), missing (a file is absent) or unknown (see error)."
    )
    files: dict[str, FileState] = Field(description="Each synced file's state; empty when unknown.")
    checked_at: datetime | None = Field(
        description="When the operator last read the repository; null when it has not yet."
    )
    error: str | None = Field(
        description="Why the state is unknown: the repository could not be read (GitHub's answer), or not yet."
    )


class TemplateStatusCounts(CamelModel):
    current: int
    stale: int
    missing: int
    unknown: int


class TemplateStatusList(CamelModel):
    template_version: int = Field(description="The controller's template version.")
    counts: TemplateStatusCounts
    repos: list[TemplateStatusRow] = Field(description="One row per mapping, sorted by team key.")


class ModelsKpiView(CamelModel):
    projects: int
    anthropic: int = Field(description="Mappings using the Anthropic API.")
    bedrock: int = Field(description="Mappings using Amazon Bedrock.")
    bedrock_regions: int = Field(description="Distinct AWS regions of the Bedrock mappings.")


class ModelsRowView(CamelModel):
    team_key: str
    repo: str
    provider: str = Field(description="anthropic or bedrock.")
    bedrock_region: str | None = Field(description="provider.awsRegion of a Bedrock mapping.")
    region_badge: Literal["missing"] | None = Field(description="missing: a Bedrock mapping without its region.")
    planning_enabled: bool
    runner_mode: str = Field(description="Where runs execute now, after RUNNER_MODE or the stored override.")
    configured_runner_mode: str = Field(description="The mapping's own runner.executionMode.")
    implementation_model: str | None = Field(description=f"`model` of {WORKFLOW_PROMPT_PATH}'s front matter.")
    implementation_model_reason: str | None = Field(description="Why there is no implementation model id.")
    planning_model: str | None = Field(description=f"`model` of {PLANNING_PROMPT_PATH}'s front matter.")
    planning_model_reason: str | None = Field(description="Why there is no planning model id.")
    checked_at: datetime | None = Field(
        description="When the operator last read the prompts; null when it has not yet (the reasons say so)."
    )


class ModelsPanel(CamelModel):
    kpis: ModelsKpiView
    rows: list[ModelsRowView] = Field(description="One row per mapping, sorted by team key.")


def _sync_service(context: WebContext, github: GitHubClient) -> WorkflowSync:
    return WorkflowSync(github, session_image=context.settings.session_image, clock=context.clock)


def _github_or_503(context: WebContext) -> GitHubClient:
    if context.github is None:
        raise ApiError(503, "github_not_configured", GITHUB_NOT_CONFIGURED)
    return context.github


def _github_failed(error: GitHubError) -> ApiError:
    headers = {"Retry-After": str(max(1, round(error.retry_after)))} if error.retry_after else None
    return ApiError(502, "github_error", str(error), headers=headers)


@router.route(
    "POST",
    "/api/mappings/{teamKey}/sync-workflows",
    summary="Re-sync workflow templates from the orchestrator into the target repo",
    description="Opens, or updates, the pull request from the branch "
    f"`{SYNC_BRANCH}` that brings the target repository's workflows and starter prompts up to date "
    "(see docs/workflows.md). When nothing differs from the default branch, no pull request is opened and "
    "`outcome` is `current`. What the sync read of the default branch becomes the repository's check at once "
    "(template status, models). 502 carries GitHub's answer; 503 when the GitHub App is not configured; 422 "
    "when the mapping's default branch does not exist.",
    responses={200: SyncWorkflowsResult, 422: None, 502: None},
)
async def sync_workflows(request: web.Request) -> web.Response:
    return respond(await sync_workflows_of(context_of(request), team_key_of(request), actor_of(request)))


async def sync_workflows_of(context: WebContext, team_key: str, actor: str) -> SyncWorkflowsResult:
    """Open or update the pull request that brings the repository's workflows and prompts up to date."""
    mapping = next((view for view in mappings_of(context) if view.team_key == team_key), None)
    if mapping is None:
        raise not_found(f"no mapping for team key {team_key}")
    github = _github_or_503(context)
    try:
        result = await _sync_service(context, github).sync(mapping.spec)
    except WorkflowSyncError as error:
        await context.store.record_repository_check(
            unreadable_check(repository_key(mapping.spec), str(error), context.clock())
        )
        raise ApiError(422, "mapping_not_syncable", str(error)) from None
    except GitHubError as error:
        raise _github_failed(error) from None
    await context.store.record_repository_check(result.check)  # the panels show what this sync read, at once
    await record_change_by(
        context,
        actor,
        "mapping.sync-workflows",
        team_key,
        {"outcome": result.outcome, "pullRequest": result.number, "changedFiles": list(result.changed_files)},
    )
    return SyncWorkflowsResult(
        team_key=team_key,
        repo=result.repo,
        outcome=result.outcome,
        created=result.created,
        pull_request_number=result.number,
        pull_request_url=result.pull_request_url,
        branch=result.branch,
        changed_files=list(result.changed_files),
        template_version=TEMPLATE_VERSION,
    )


def _unchecked_reason(context: WebContext) -> str:
    """What a mapping whose repository has no check yet is told."""
    return NOT_CHECKED_YET if context.github is not None else GITHUB_NOT_CONFIGURED


async def _checks_by_repository(context: WebContext) -> Mapping[RepositoryKey, RepositoryCheck]:
    return {check.key: check for check in await context.store.repository_checks()}


@router.route(
    "GET",
    "/api/admin/template-status",
    summary="Get workflow-template staleness status per target repo",
    description="Judges the synced files on each mapping's default branch, as the operator last read them, "
    "against the mapping's rendering; no GitHub call is made. The operator reads a repository within "
    f"{FIRST_CHECK_WITHIN.seconds} s of its mapping's creation and then every {RECHECK_EVERY.seconds // 60} "
    "minutes; Sync workflows reads it at once. `checkedAt` is the time of that read. A repository that cannot "
    "be read (GitHub's error, a missing default branch), or that was not read yet, is reported in its row as "
    "state unknown with the reason, never as a failure of the whole list.",
    responses={200: TemplateStatusList},
)
async def template_status(request: web.Request) -> web.Response:
    return respond(await template_status_list(context_of(request)))


async def template_status_list(context: WebContext) -> TemplateStatusList:
    """Every mapping's row from the stored checks: as long for 1,000 mappings as reading 1,000 rows."""
    mappings = mappings_of(context)
    checks = await _checks_by_repository(context)
    unchecked = _unchecked_reason(context)
    context.rendered_digests.keep_only([mapping.name for mapping in mappings])
    rows = [_status_row(context, mapping, checks, unchecked) for mapping in mappings]
    counts = TemplateStatusCounts(
        current=sum(row.state == "current" for row in rows),
        stale=sum(row.state == "stale" for row in rows),
        missing=sum(row.state == "missing" for row in rows),
        unknown=sum(row.state == "unknown" for row in rows),
    )
    return TemplateStatusList(template_version=TEMPLATE_VERSION, counts=counts, repos=rows)


def _status_row(
    context: WebContext, mapping: MappingView, checks: Mapping[RepositoryKey, RepositoryCheck], unchecked: str
) -> TemplateStatusRow:
    source = mapping.spec.source
    judged = template_status_of(
        context.rendered_digests.of(mapping.name, mapping.spec), checks.get(repository_key(mapping.spec)), unchecked
    )
    return TemplateStatusRow(
        team_key=mapping.team_key,
        repo=f"{source.owner}/{source.repo}",
        state=judged.state,
        files=judged.files,
        checked_at=judged.checked_at,
        error=judged.error,
    )


def _row_view(row: ModelsRow) -> ModelsRowView:
    return ModelsRowView(
        team_key=row.team_key,
        repo=row.repo,
        provider=row.provider,
        bedrock_region=row.bedrock_region,
        region_badge=row.region_badge,
        planning_enabled=row.planning_enabled,
        runner_mode=row.runner_mode,
        configured_runner_mode=row.configured_runner_mode,
        implementation_model=row.implementation.model,
        implementation_model_reason=row.implementation.reason,
        planning_model=row.planning.model,
        planning_model_reason=row.planning.reason,
        checked_at=row.checked_at,
    )


@router.route(
    "GET",
    "/api/models",
    summary="Model provider, region and model ids per project mapping (Models & providers panel)",
    description="Model ids come from the front matter (`model:`) of WORKFLOW.md and PLANNING.md on each target "
    "repository's default branch, as the operator last read them (`checkedAt`); no GitHub call is made. When they "
    "cannot be read, or were not read yet, the id is null and the reason says why.",
    responses={200: ModelsPanel},
)
async def models_panel(request: web.Request) -> web.Response:
    return respond(await models_of(context_of(request)))


async def models_of(context: WebContext) -> ModelsPanel:
    """The Models & providers panel, for the JSON API and the admin UI alike, from the stored checks."""
    mappings = mappings_of(context)
    mode = (await resolved_runner_mode(context)).mode
    checks = await _checks_by_repository(context)
    unchecked = _unchecked_reason(context)
    rows: list[ModelsRow] = []
    for mapping in mappings:
        spec = mapping.spec
        check = checks.get(repository_key(spec))
        rows.append(
            models_row(
                spec,
                *model_choices_of(check, unchecked),
                runner_mode=effective_execution_mode(mode, spec.runner.execution_mode, spec.provider.name),
                checked_at=check.checked_at if check is not None else None,
            )
        )
    kpis = models_kpis(rows)
    return ModelsPanel(
        kpis=ModelsKpiView(
            projects=kpis.projects,
            anthropic=kpis.anthropic,
            bedrock=kpis.bedrock,
            bedrock_regions=kpis.bedrock_regions,
        ),
        rows=[_row_view(row) for row in rows],
    )
