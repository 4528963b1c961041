"""GET /api/log and GET /api/jobs/:jobId/steps: the dispatch log as jobs, and one dispatch's steps.

A job is what the "Pipelines (jobs)" panel shows on one row: the planning run of a ticket, the
implementation run that follows it, and the review and gap-fill runs on its pull request. The
log is grouped into jobs by `group_jobs`, a pure function; a ticket dispatched again later (after
the dedup window, or once the old job failed) starts a new job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import Field

from controller.kube import DISPATCHES
from controller.kube.client import OBJECT_NAME
from controller.kube.errors import NotFoundError
from controller.resources.dispatch import DispatchStatus, RunUsage, log_status_of_phase
from controller.store import DispatchLogEntry, Usage
from controller.web.context import WebContext, context_of
from controller.web.errors import not_found
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, path_param, respond

router = ApiRouter(tag="jobs")

JOB_STARTING_KINDS = frozenset({"planning", "implementation"})


class UsageOut(CamelModel):
    input_tokens: int = Field(description="Input tokens, not cached.")
    output_tokens: int = Field(description="Output tokens.")
    cache_read_tokens: int = Field(description="Input tokens read from the cache.")
    cache_creation_tokens: int = Field(description="Input tokens written to the cache.")
    cost_usd: float = Field(description="What the agent reported it cost, in USD.")
    model: str | None = Field(default=None, description="The model, when every run summed used the same one.")

    @classmethod
    def of_run(cls, usage: RunUsage | None) -> UsageOut | None:
        """From a live Dispatch's result."""
        return None if usage is None else cls.model_validate(usage.model_dump())

    @classmethod
    def of(cls, usage: Usage | None) -> UsageOut | None:
        """From the store's log."""
        if usage is None:
            return None
        return cls(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_creation_tokens=usage.cache_creation_tokens,
            cost_usd=usage.cost_usd,
            model=usage.model,
        )


def total_usage(usages: Sequence[Usage | None]) -> Usage | None:
    """The sum of those runs that reported any; None when none did."""
    reported = [usage for usage in usages if usage is not None]
    if not reported:
        return None
    total = reported[0]
    for usage in reported[1:]:
        total = total + usage
    return total


class LogEntry(CamelModel):
    id: int = Field(description="The log entry's id.")
    job_id: str | None = Field(description="The Dispatch name: GET /api/jobs/{jobId}/steps.")
    created_at: datetime = Field(description="When the dispatch was created.")
    finished_at: datetime | None = Field(description="When it reached a terminal phase.")
    kind: str = Field(description="planning, implementation, review or gap-fill.")
    dispatch_number: int = Field(description="The dispatch number of this kind for the ticket.")
    status: str = Field(description="pending, starting, running, succeeded, failed, review-failed, ...")
    runner_mode: str
    session_image: str
    pull_request_url: str | None
    message: str | None = Field(description="Why it did not succeed, when it did not.")
    usage: UsageOut | None = Field(default=None, description="Tokens and cost the agent reported, once it ended.")


class Job(CamelModel):
    issue_id: str
    identifier: str = Field(description="The ticket's key, e.g. ENG-12.")
    title: str
    repo: str = Field(description="owner/name of the target repository.")
    team_key: str
    runner_mode: str = Field(description="The runner mode of the latest dispatch.")
    session_image: str = Field(description="The session image of the latest dispatch.")
    status: str = Field(description="The latest dispatch's status.")
    statuses: dict[str, str] = Field(description="The latest status of each kind: planning, implementation, ...")
    pull_request_url: str | None = Field(description="The job's pull request, once a run opened one.")
    dispatch_number: int = Field(description="The highest dispatch number in the job (re-dispatches).")
    created_at: datetime = Field(description="When the job's first dispatch was created.")
    updated_at: datetime = Field(description="When the job's latest dispatch was created.")
    dispatches: list[LogEntry] = Field(description="The job's dispatches, oldest first.")
    usage: UsageOut | None = Field(default=None, description="The sum over the job's dispatches that reported it.")


class DispatchLog(CamelModel):
    jobs: list[Job] = Field(description="Newest first.")
    entries: int = Field(description="Log entries read (the last 500 dispatches).")


class JobStep(CamelModel):
    name: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    elapsed_seconds: float | None = None
    message: str | None = None
    output: dict[str, Any] | None = None


class JobSteps(CamelModel):
    job_id: str
    status: str = Field(description="The dispatch's status.")
    source: str = Field(description="live (the Dispatch resource) or log (kept after the resource was deleted).")
    steps: list[JobStep]
    usage: UsageOut | None = Field(default=None, description="Tokens and cost the agent reported, once it did.")


def group_jobs(entries: Sequence[DispatchLogEntry]) -> list[list[DispatchLogEntry]]:
    """Group log entries into jobs, each oldest first; jobs newest first by their latest dispatch."""
    jobs: list[list[DispatchLogEntry]] = []
    open_job: dict[str, list[DispatchLogEntry]] = {}
    for entry in sorted(entries, key=lambda item: (item.created_at, item.id)):
        job = open_job.get(entry.issue_id)
        if job is None or _starts_new_job(job, entry):
            job = []
            jobs.append(job)
            open_job[entry.issue_id] = job
        job.append(entry)
    return sorted(jobs, key=lambda job: (job[-1].created_at, job[-1].id), reverse=True)


def _starts_new_job(job: list[DispatchLogEntry], entry: DispatchLogEntry) -> bool:
    kinds = [item.kind for item in job]
    if entry.kind == "planning":
        return True
    if entry.kind == "implementation":
        return any(kind in ("implementation", "review", "gap-fill") for kind in kinds)
    return False


def job_of(entries: list[DispatchLogEntry]) -> Job:
    latest = entries[-1]
    statuses: dict[str, str] = {}
    for entry in entries:
        statuses[entry.kind] = entry.status
    pull_request = next((e.pull_request_url for e in reversed(entries) if e.pull_request_url), None)
    return Job(
        issue_id=latest.issue_id,
        identifier=latest.identifier,
        title=latest.title,
        repo=latest.repo,
        team_key=latest.team_key,
        runner_mode=latest.runner_mode,
        session_image=latest.session_image,
        status=latest.status,
        statuses=statuses,
        pull_request_url=pull_request,
        dispatch_number=max(entry.iteration for entry in entries),
        created_at=entries[0].created_at,
        updated_at=latest.created_at,
        dispatches=[
            LogEntry(
                id=entry.id,
                job_id=entry.dispatch_name,
                created_at=entry.created_at,
                finished_at=entry.finished_at,
                kind=entry.kind,
                dispatch_number=entry.iteration,
                status=entry.status,
                runner_mode=entry.runner_mode,
                session_image=entry.session_image,
                pull_request_url=entry.pull_request_url,
                message=entry.message,
                usage=UsageOut.of(entry.usage),
            )
            for entry in entries
        ],
        usage=UsageOut.of(total_usage([entry.usage for entry in entries])),
    )


@router.route(
    "GET",
    "/api/log",
    summary="Dispatch audit log: the last 500 dispatches, grouped into jobs",
    responses={200: DispatchLog},
)
async def dispatch_log(request: web.Request) -> web.Response:
    return respond(await dispatch_log_of(context_of(request)))


async def dispatch_log_of(context: WebContext) -> DispatchLog:
    """The log as jobs, for the JSON API and the Pipelines panel alike."""
    entries = await context.store.recent_dispatch_log()
    return DispatchLog(jobs=[job_of(job) for job in group_jobs(entries)], entries=len(entries))


@router.route(
    "GET",
    "/api/jobs/{jobId}/steps",
    summary="Step-by-step execution status of one dispatch",
    responses={200: JobSteps, 404: None},
)
async def job_steps(request: web.Request) -> web.Response:
    return respond(await job_steps_of(context_of(request), path_param(request, "jobId")))


async def job_steps_of(context: WebContext, job_id: str) -> JobSteps:
    """One dispatch's steps, live while its Dispatch exists, else as logged; ApiError 404 when neither has it."""
    if not OBJECT_NAME.fullmatch(job_id) or len(job_id) > 253:
        raise not_found(f"there is no job {job_id[:80]!r}: a job id is a Dispatch name, e.g. eng-42-implementation-1")
    try:
        dispatch = await context.kube.get(DISPATCHES, context.namespace, job_id)
    except NotFoundError:
        dispatch = None
    if dispatch is not None:
        status = dispatch.get("status") or {}
        steps = [JobStep.model_validate(step) for step in status.get("steps") or []]
        phase = log_status_of_phase(str(status.get("phase") or "Pending"))
        result = DispatchStatus.model_validate(status).result
        usage = UsageOut.of_run(result.usage if result is not None else None)
        return JobSteps(job_id=job_id, status=phase, source="live", steps=steps, usage=usage)
    logged = await context.store.dispatch_log_entry(job_id)
    if logged is None:
        raise not_found(f"there is no job {job_id!r}: neither a Dispatch nor a dispatch-log entry has that name")
    steps = [JobStep.model_validate(step) for step in logged.steps]
    usage = UsageOut.of(logged.usage)
    return JobSteps(job_id=job_id, status=logged.status, source="log", steps=steps, usage=usage)
