"""GET /api/runners: the Runners panel's data, for the admin UI and the JSON API alike.

The runner-mode override in force, live sessions (the top 8, newest first, and the count of live Fly
sessions), capacity utilisation over every mapping, the reaper's destructions of the last 24 hours,
and per mapping its configured execution mode, the effective one after the global override, and its
capacity. Read from the store (the operator's census and reaper records) and the informer's cache:
no backend is called.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from aiohttp import web
from pydantic import Field

from controller.config import bedrock_kept_off_fly, effective_execution_mode
from controller.store import runner_mode_in_force
from controller.web.context import WebContext, context_of
from controller.web.mappings import mappings_of
from controller.web.models import CamelModel
from controller.web.overview import Capacity, capacity_of
from controller.web.routing import ApiRouter, respond
from controller.web.sessions import PANEL_STATES

router = ApiRouter(tag="runners")

TOP_SESSIONS: Final = 8
REAPER_WINDOW: Final = timedelta(hours=24)


class RunnerModeNow(CamelModel):
    mode: str = Field(description="default, gha, fly, local or shadow: the override in force.")
    source: str = Field(description="Where it comes from: environment, stored (the admin API) or default.")
    env_locked: bool = Field(description="RUNNER_MODE is set in the environment: it wins, the toggle cannot move it.")


class LiveSession(CamelModel):
    machine_id: str = Field(description="Fly machine id, container id, or owner/repo/run_id of a workflow run.")
    backend: str
    state: str
    dispatch: str | None
    team_key: str | None
    first_seen_at: datetime = Field(description="When the census first saw it.")


class ProjectRunner(CamelModel):
    team_key: str
    configured: str = Field(description="The mapping's runner.executionMode.")
    note: str | None = Field(
        default=None, description="Why the effective mode is not the global one (Bedrock kept off Fly Machines)."
    )
    effective: str = Field(description="Where its runs execute now, after the global runner mode.")
    in_progress: int
    cap: int


class RunnersPanel(CamelModel):
    runner_mode: RunnerModeNow
    live_sessions: int = Field(description="Live sessions on every backend.")
    live_fly_sessions: int = Field(description="Live Fly Machine sessions.")
    top_sessions: list[LiveSession] = Field(description=f"The {TOP_SESSIONS} newest live sessions.")
    capacity: Capacity
    reaped_recently: int = Field(description="Sessions the reaper destroyed in the last 24 hours.")
    projects: list[ProjectRunner]


@router.route(
    "GET", "/api/runners", summary="The Runners panel: modes, live sessions, capacity", responses={200: RunnersPanel}
)
async def get_runners(request: web.Request) -> web.Response:
    return respond(await runners_of(context_of(request)))


async def runners_of(context: WebContext) -> RunnersPanel:
    resolved = await runner_mode_in_force(context.store, context.settings)
    live = await context.store.live_session_counts(PANEL_STATES)
    newest = await context.store.newest_live_sessions(PANEL_STATES, TOP_SESSIONS)
    mappings = mappings_of(context) if context.mappings.synced else []
    reaped = await context.store.reaper_counts_since(context.clock() - REAPER_WINDOW)
    return RunnersPanel(
        runner_mode=RunnerModeNow(mode=resolved.mode, source=resolved.source, env_locked=resolved.env_locked),
        live_sessions=sum(live.values()),
        live_fly_sessions=live.get("fly-machines", 0),
        top_sessions=[
            LiveSession(
                machine_id=row.resource_id,
                backend=row.backend,
                state=row.state,
                dispatch=row.dispatch_name,
                team_key=row.team_key,
                first_seen_at=row.first_seen_at,
            )
            for row in newest
        ],
        capacity=capacity_of(mappings),
        reaped_recently=sum(reaped.destroyed_by_backend.values()),
        projects=[
            ProjectRunner(
                team_key=view.team_key,
                configured=view.spec.runner.execution_mode,
                effective=effective_execution_mode(
                    resolved.mode, view.spec.runner.execution_mode, view.spec.provider.name
                ),
                note=bedrock_kept_off_fly(resolved.mode, view.spec.runner.execution_mode, view.spec.provider.name),
                in_progress=view.status.in_progress or 0,
                cap=view.spec.capacity.max_in_progress_ai_issues,
            )
            for view in mappings
        ],
    )
