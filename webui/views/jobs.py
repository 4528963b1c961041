"""Pipelines (jobs): the dispatch log grouped into jobs, and each dispatch's steps on demand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import quote

from aiohttp import web

from controller.kube import KubeApiError, KubeError
from controller.web.context import context_of
from controller.web.errors import ApiError, from_kube_error
from controller.web.jobs import JobStep, JobSteps, dispatch_log_of, job_steps_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Work", "Pipelines", "/admin/jobs", 3))


@dataclass(frozen=True, slots=True)
class StepLine:
    step: JobStep
    elapsed_seconds: float | None
    """As reported once the step ended; while it runs, the time since it started."""


def step_lines(steps: JobSteps, now: datetime) -> list[StepLine]:
    """A step still running has no elapsed time yet: show how long it has been going (pure).

    Only while the Dispatch lives: a step left "running" in the log of an ended run stopped long ago.
    """
    lines = []
    for step in steps.steps:
        elapsed = step.elapsed_seconds
        if elapsed is None and step.status == "running" and steps.source == "live" and step.started_at is not None:
            elapsed = max((now - step.started_at).total_seconds(), 0.0)
        lines.append(StepLine(step=step, elapsed_seconds=elapsed))
    return lines


def steps_path(job_id: str) -> str:
    """The drill-down's URL; a logged name is quoted whole, so it can only ever name one dispatch."""
    return f"{PANEL.path}/{quote(job_id, safe='')}/steps"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_get(f"{PANEL.path}/live", signed_in(_live))
    router.add_get(PANEL.path + "/{jobId}/steps", signed_in(_steps))


async def _values(request: web.Request) -> dict[str, object]:
    context = context_of(request)
    log = await dispatch_log_of(context)
    return {"panel": PANEL, "now": context.clock(), "log": log, "steps_path": steps_path}


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/jobs.html", await _values(request), session=session)


async def _live(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/jobs_live.html", await _values(request), session=session)


async def _steps(request: web.Request, session: Session) -> web.StreamResponse:
    """The steps as a partial for htmx (always 200, so htmx swaps the error in too); a page when opened directly."""
    context = context_of(request)
    job_id = request.match_info["jobId"]
    now = context.clock()
    values: dict[str, object] = {
        "panel": PANEL,
        "now": now,
        "job_id": job_id,
        "steps": None,
        "lines": [],
        "problem": None,
    }
    try:
        steps = await job_steps_of(context, job_id)
    except ApiError as error:
        values["problem"] = error.message
    except KubeApiError as error:
        values["problem"] = from_kube_error(error).message
    except KubeError as error:
        values["problem"] = f"the Kubernetes API could not be asked: {error}"
    else:
        values |= {"steps": steps, "lines": step_lines(steps, now)}
    htmx = request.headers.get("HX-Request") == "true"
    template = "panels/jobs_steps.html" if htmx else "panels/jobs_steps_page.html"
    return render(request, template, values, session=session)
