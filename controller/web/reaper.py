"""The Reaper panel: what the reaper destroyed in the last 24 hours, by rule, and its latest actions."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web
from pydantic import Field

from controller.store import ReaperAction, ReaperBackend, ReaperOutcome, ReaperRule
from controller.web.context import WebContext, context_of
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, limit_of, limit_parameter, reject_unknown_query, respond

router = ApiRouter(tag="reaper")

SUMMARY_WINDOW = timedelta(hours=24)
DEFAULT_RECENT = 50
MAX_RECENT = 500


class DestroyedTotals(CamelModel):
    total: int = Field(description="Machines, containers and workflow runs destroyed.")
    machines: int = Field(description="Fly machines and local containers destroyed.")
    jobs: int = Field(description="GitHub Actions runs cancelled.")
    by_rule: dict[str, int] = Field(description="orphan, stale-terminal-job, max-age-exceeded, issue-terminal.")


class ReaperSummary(CamelModel):
    window_hours: int
    destroyed: DestroyedTotals
    dry_run: int = Field(description="Resources a dry-run sweep would have destroyed.")
    dry_run_by_rule: dict[str, int]
    failed: int = Field(description="Destructions that failed (retried at the next sweep).")
    last_sweep_at: datetime | None = Field(description="When the last sweep finished.")
    last_sweep_error: str | None = Field(description="Why the last sweep was partial or judged nothing.")
    dry_run_mode: bool = Field(description="REAPER_DRY_RUN: sweeps record but destroy nothing.")
    interval_seconds: int = Field(description="REAPER_INTERVAL_SECONDS.")
    grace_minutes: int = Field(description="REAPER_GRACE_MINUTES.")
    alert_threshold: int | None = Field(description="REAPER_ALERT_THRESHOLD, or null for no alert.")


class ReaperActionRow(CamelModel):
    at: datetime
    rule: ReaperRule
    machine_id: str
    backend: ReaperBackend = Field(description="fly, github-actions or local.")
    tenant: str | None = Field(description="CLIENT_SLUG of the instance, or the tenant the machine is labelled with.")
    issue: str | None = Field(description="The ticket, e.g. ENG-123, when known.")
    age_seconds: int
    dry_run: bool
    outcome: ReaperOutcome = Field(description="dry-run, destroyed or failed.")
    message: str | None = Field(description="Why the rule matched, and what failed if it did.")


class ReaperActionList(CamelModel):
    actions: list[ReaperActionRow] = Field(description="Newest first.")


@router.route(
    "GET",
    "/api/reaper/summary",
    summary="24-hour reaper destruction summary, broken down by rule",
    responses={200: ReaperSummary, 422: None},
)
async def reaper_summary(request: web.Request) -> web.Response:
    reject_unknown_query(request)
    return respond(await reaper_summary_of(context_of(request)))


async def reaper_summary_of(context: WebContext) -> ReaperSummary:
    """The last 24 hours of the reaper and its settings, for the JSON API and the Reaper panel alike."""
    settings = context.settings
    counts = await context.store.reaper_counts_since(context.clock() - SUMMARY_WINDOW)
    sweep = await context.store.last_reaper_sweep()
    by_backend = counts.destroyed_by_backend
    return ReaperSummary(
        window_hours=int(SUMMARY_WINDOW.total_seconds() // 3600),
        destroyed=DestroyedTotals(
            total=sum(by_backend.values()),
            machines=by_backend["fly"] + by_backend["local"],
            jobs=by_backend["github-actions"],
            by_rule=dict(counts.destroyed_by_rule),
        ),
        dry_run=counts.dry_run,
        dry_run_by_rule=dict(counts.dry_run_by_rule),
        failed=counts.by_outcome["failed"],
        last_sweep_at=sweep.finished_at if sweep else None,
        last_sweep_error=sweep.error if sweep else None,
        dry_run_mode=settings.reaper_dry_run,
        interval_seconds=settings.reaper_interval_seconds,
        grace_minutes=settings.reaper_grace_minutes,
        alert_threshold=settings.reaper_alert_threshold,
    )


@router.route(
    "GET",
    "/api/reaper/recent",
    summary="List recent reaper destruction actions",
    query=limit_parameter(DEFAULT_RECENT, MAX_RECENT),
    responses={200: ReaperActionList, 422: None},
)
async def reaper_recent(request: web.Request) -> web.Response:
    reject_unknown_query(request)
    return respond(await reaper_actions_of(context_of(request), limit_of(request, DEFAULT_RECENT, MAX_RECENT)))


async def reaper_actions_of(context: WebContext, limit: int = DEFAULT_RECENT) -> ReaperActionList:
    """The reaper's latest actions, newest first, with the rule that matched and why."""
    actions = await context.store.recent_reaper_actions(limit)
    return ReaperActionList(actions=[action_row(action) for action in actions])


def action_row(action: ReaperAction) -> ReaperActionRow:
    return ReaperActionRow(
        at=action.at,
        rule=action.rule,
        machine_id=action.resource_id,
        backend=action.backend,
        tenant=action.tenant,
        issue=action.issue_identifier,
        age_seconds=action.age_seconds,
        dry_run=action.dry_run,
        outcome=action.outcome,
        message=action.message,
    )
