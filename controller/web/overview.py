"""GET /api/overview: the Overview panel's data, for the admin UI and the JSON API alike.

Running jobs with their duration, failed jobs in the last 24 hours, capacity utilisation, projects at
their cap, stale workflow templates, the 24-hour dispatch trend (hourly buckets) and the environment
checks. Everything comes from the informer's cache, one list of Dispatches and the store's dispatch
log: no call to a ticketing provider or to GitHub (the template state is the one the operator last
wrote into each mapping's status).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final

from aiohttp import web
from pydantic import Field

from controller.kube import DISPATCHES
from controller.kube.errors import KubeError
from controller.resources import DispatchSpec, DispatchStatus
from controller.store.records import DispatchLogEntry
from controller.web.config_status import StatusCheck, environment_checks
from controller.web.context import WebContext, context_of
from controller.web.mappings import MappingView, mappings_of
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, respond

router = ApiRouter(tag="overview")

TREND_HOURS: Final = 24
FAILED_STATUSES: Final = frozenset({"failed", "timed-out", "review-failed"})
"""Dispatch-log statuses that count as failed jobs (a cancelled run was someone's choice)."""


class RunningJob(CamelModel):
    dispatch: str = Field(description="The Dispatch's name.")
    identifier: str = Field(description="The ticket, e.g. ENG-12.")
    title: str = Field(description="The ticket's title.")
    url: str = Field(description="Link to the ticket.")
    team_key: str
    kind: str = Field(description="planning, implementation, review or gap-fill.")
    started_at: datetime
    duration_seconds: float = Field(description="How long it has been running.")


class FailedJob(CamelModel):
    dispatch: str | None
    identifier: str
    team_key: str
    kind: str
    status: str = Field(description="failed, timed-out or review-failed.")
    message: str | None = Field(description="Why, as the dispatch log has it.")
    created_at: datetime


class ProjectCapacity(CamelModel):
    team_key: str
    in_progress: int = Field(description="Tickets of the mapping in progress now (the operator's count).")
    cap: int = Field(description="maxInProgressAiIssues.")
    at_cap: bool
    paused: bool


class Capacity(CamelModel):
    in_progress: int = Field(description="In progress over every mapping.")
    cap: int = Field(description="The sum of the mappings' caps.")
    utilisation: float = Field(description="in_progress / cap, from 0 to 1 (0 with no capacity at all).")
    projects: list[ProjectCapacity]


class StaleTemplate(CamelModel):
    team_key: str
    repository: str = Field(description="owner/repo.")
    state: str = Field(description="stale or missing, as the operator last saw the repository.")


class TrendBucket(CamelModel):
    hour: datetime = Field(description="The start of the hour.")
    dispatches: int = Field(description="Dispatches created in that hour.")
    failed: int = Field(description="How many of them failed.")


class Overview(CamelModel):
    running: list[RunningJob] = Field(description="Running jobs, longest first.")
    running_error: str | None = Field(description="Why the running jobs could not be listed, if they could not.")
    failed_jobs: list[FailedJob] = Field(description="Failed jobs created in the last 24 hours, newest first.")
    capacity: Capacity
    projects_at_cap: list[str] = Field(description="Team keys of the mappings at their cap.")
    stale_templates: list[StaleTemplate]
    trend: list[TrendBucket] = Field(description="The last 24 hours, hour by hour, oldest first.")
    checks: list[StatusCheck] = Field(description="The environment checks of GET /api/admin/config-status.")
    generated_at: datetime


@router.route(
    "GET", "/api/overview", summary="The Overview panel: health of the orchestrator", responses={200: Overview}
)
async def get_overview(request: web.Request) -> web.Response:
    return respond(await overview_of(context_of(request)))


async def overview_of(context: WebContext) -> Overview:
    now = context.clock()
    mappings = mappings_of(context) if context.mappings.synced else []
    running, running_error = await _running_jobs(context, now)
    since = now - timedelta(hours=TREND_HOURS)
    outcomes = await context.store.dispatch_outcomes_since(since)
    failed = await context.store.dispatch_log_since(since, FAILED_STATUSES)
    capacity = capacity_of(mappings)
    return Overview(
        running=running,
        running_error=running_error,
        failed_jobs=[_failed_job(entry) for entry in failed],
        capacity=capacity,
        projects_at_cap=[project.team_key for project in capacity.projects if project.at_cap],
        stale_templates=_stale_templates(mappings),
        trend=hourly_trend(outcomes, now),
        checks=(await environment_checks(context)).checks,
        generated_at=now,
    )


async def _running_jobs(context: WebContext, now: datetime) -> tuple[list[RunningJob], str | None]:
    try:
        items = (await context.kube.list(DISPATCHES, context.namespace)).items
    except KubeError as error:
        return [], f"the Kubernetes API did not list the Dispatches: {error}"
    jobs = []
    for item in items:
        status = DispatchStatus.model_validate(item.get("status") or {})
        if status.phase != "Running" or status.started_at is None:
            continue
        spec = DispatchSpec.model_validate(item["spec"])
        jobs.append(
            RunningJob(
                dispatch=item["metadata"]["name"],
                identifier=spec.issue.identifier,
                title=spec.issue.title,
                url=spec.issue.url,
                team_key=spec.mapping,
                kind=spec.kind,
                started_at=status.started_at,
                duration_seconds=max((now - status.started_at).total_seconds(), 0.0),
            )
        )
    return sorted(jobs, key=lambda job: job.started_at), None


def _failed_job(entry: DispatchLogEntry) -> FailedJob:
    return FailedJob(
        dispatch=entry.dispatch_name,
        identifier=entry.identifier,
        team_key=entry.team_key,
        kind=entry.kind,
        status=entry.status,
        message=entry.message,
        created_at=entry.created_at,
    )


def capacity_of(mappings: Sequence[MappingView]) -> Capacity:
    projects = [
        ProjectCapacity(
            team_key=view.team_key,
            in_progress=view.status.in_progress or 0,
            cap=view.spec.capacity.max_in_progress_ai_issues,
            at_cap=(view.status.in_progress or 0) >= view.spec.capacity.max_in_progress_ai_issues,
            paused=view.spec.paused,
        )
        for view in mappings
    ]
    in_progress, cap = sum(p.in_progress for p in projects), sum(p.cap for p in projects)
    return Capacity(
        in_progress=in_progress,
        cap=cap,
        utilisation=min(in_progress / cap, 1.0) if cap else 0.0,
        projects=projects,
    )


def _stale_templates(mappings: Sequence[MappingView]) -> list[StaleTemplate]:
    return [
        StaleTemplate(
            team_key=view.team_key,
            repository=f"{view.spec.source.owner}/{view.spec.source.repo}",
            state=str(view.status.workflow_template),
        )
        for view in mappings
        if view.status.workflow_template in ("stale", "missing")
    ]


def hourly_trend(outcomes: Iterable[tuple[datetime, str]], now: datetime) -> list[TrendBucket]:
    """Dispatches per hour over the last 24 from (created_at, status) pairs, the current hour last (pure)."""
    current = now.replace(minute=0, second=0, microsecond=0)
    hours = [current - timedelta(hours=offset) for offset in range(TREND_HOURS - 1, -1, -1)]
    counts = {hour: [0, 0] for hour in hours}
    for created_at, status in outcomes:
        hour = created_at.replace(minute=0, second=0, microsecond=0)
        if hour in counts:
            counts[hour][0] += 1
            counts[hour][1] += status in FAILED_STATUSES
    return [TrendBucket(hour=hour, dispatches=counts[hour][0], failed=counts[hour][1]) for hour in hours]
