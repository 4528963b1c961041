"""/api/runner-mode: the global runner-mode override, stored in the store, locked by RUNNER_MODE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from pydantic import Field

from controller import constants
from controller.config import RunnerMode
from controller.config.overrides import (
    ResolvedRunnerMode,
    ValueSource,
    available_runner_modes,
    resolve_runner_mode,
)
from controller.store import SettingValue, runner_mode_in_force
from controller.web.audit import actor_of, record_change_by
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, read_body, respond

router = ApiRouter(tag="runner mode")


class RunnerModeChange(CamelModel):
    mode: RunnerMode = Field(
        description="default, gha, fly or shadow (need FLY_SESSIONS_TOKEN), or local (needs LOCAL_RUNNER_IMAGE)."
    )


class RunnerModeView(CamelModel):
    """The mode in force, where it comes from, and what is stored."""

    mode: RunnerMode = Field(description="The runner mode in force now.")
    source: ValueSource = Field(description="environment (RUNNER_MODE), database (set here) or default.")
    env_locked: bool = Field(description="True while RUNNER_MODE is set: changes here wait for its removal.")
    environment_mode: RunnerMode | None = Field(description="RUNNER_MODE, when set.")
    stored_mode: RunnerMode | None = Field(description="The mode last set through this API.")
    stored_at: datetime | None
    stored_by: str | None
    accepted_modes: list[RunnerMode] = Field(description="What POST accepts on this server.")


class RunnerModeChangeResult(RunnerModeView):
    applied: bool = Field(description="Whether the new value is in force now.")
    message: str = Field(description="What happened, and what else is needed when it is not applied.")


def _accepted_modes(context: WebContext, fly_app: str | None) -> list[RunnerMode]:
    available = available_runner_modes(context.settings, fly_app)
    return [mode for mode in RunnerMode if mode in available]


async def _fly_app(context: WebContext) -> str | None:
    """The Fly app a Fly mode would use: FLY_SESSIONS_APP, else the one stored through /api/settings."""
    stored = await context.store.get_setting(constants.SETTING_FLY_SESSIONS_APP)
    return context.settings.fly_sessions_app or (stored.value if stored and isinstance(stored.value, str) else None)


@dataclass(frozen=True)
class _RunnerModeInputs:
    stored: SettingValue | None
    stored_mode: str | None
    environment_mode: RunnerMode | None
    resolved: ResolvedRunnerMode
    accepted: list[RunnerMode]


async def _runner_mode_inputs(context: WebContext) -> _RunnerModeInputs:
    stored = await context.store.get_setting(constants.SETTING_RUNNER_MODE)
    stored_mode = stored.value if stored is not None and isinstance(stored.value, str) else None
    environment_mode = context.settings.runner_mode if context.settings.explicitly_set("RUNNER_MODE") else None
    accepted = _accepted_modes(context, await _fly_app(context))
    resolved = resolve_runner_mode(environment_mode, stored_mode, frozenset(accepted))
    return _RunnerModeInputs(stored, stored_mode, environment_mode, resolved, accepted)


async def resolved_runner_mode(context: WebContext) -> ResolvedRunnerMode:
    """The mode in force for this process: RUNNER_MODE, else the stored one it can run, else default."""
    return await runner_mode_in_force(context.store, context.settings)


def _as_runner_mode(value: str | None) -> RunnerMode | None:
    """A stored value as a mode; a value from a newer or older version reads as none."""
    return RunnerMode(value) if value in set(RunnerMode) else None


async def runner_mode_of(context: WebContext) -> RunnerModeView:
    """The mode in force and where it comes from, for the JSON API and the Reaper panel alike."""
    inputs = await _runner_mode_inputs(context)
    return RunnerModeView(
        mode=inputs.resolved.mode,
        source=inputs.resolved.source,
        env_locked=inputs.resolved.env_locked,
        environment_mode=inputs.environment_mode,
        stored_mode=_as_runner_mode(inputs.stored_mode),
        stored_at=inputs.stored.updated_at if inputs.stored else None,
        stored_by=inputs.stored.updated_by if inputs.stored else None,
        accepted_modes=inputs.accepted,
    )


@router.route("GET", "/api/runner-mode", summary="Get the current runner mode", responses={200: RunnerModeView})
async def get_runner_mode(request: web.Request) -> web.Response:
    return respond(await runner_mode_of(context_of(request)))


@router.route(
    "POST",
    "/api/runner-mode",
    summary="Set the runner mode",
    description="Persisted in the store. While RUNNER_MODE is set in the environment the value is kept "
    "but has no effect until the variable is removed and the process restarted.",
    body=RunnerModeChange,
    responses={200: RunnerModeChangeResult},
)
async def set_runner_mode(request: web.Request) -> web.Response:
    change = await read_body(request, RunnerModeChange)
    return respond(await change_runner_mode(context_of(request), change, actor_of(request)))


async def change_runner_mode(context: WebContext, change: RunnerModeChange, actor: str) -> RunnerModeChangeResult:
    """Store a new mode and say whether it applies; ApiError 422 for a mode this controller cannot run."""
    accepted = _accepted_modes(context, await _fly_app(context))
    if change.mode not in accepted:
        needs = (
            "LOCAL_RUNNER_IMAGE"
            if change.mode is RunnerMode.LOCAL
            else "FLY_SESSIONS_TOKEN and a Fly app (FLY_SESSIONS_APP or flySessionsApp in /api/settings)"
        )
        raise ApiError(
            422,
            "mode_not_available",
            f"runner mode {change.mode.value} needs {needs}; this controller accepts "
            f"{', '.join(mode.value for mode in accepted)}",
        )
    await context.store.set_setting(constants.SETTING_RUNNER_MODE, change.mode.value, actor, context.clock())
    await record_change_by(context, actor, "runner-mode.set", "runnerMode", {"mode": change.mode.value})
    view = await runner_mode_of(context)
    if view.env_locked:
        message = (
            f"stored {change.mode.value}, but RUNNER_MODE={view.mode.value} is set in the environment and wins: "
            "the stored value takes effect once the variable is removed and the controller restarted"
        )
    else:
        message = f"runner mode is now {change.mode.value}"
    return RunnerModeChangeResult(**view.model_dump(), applied=not view.env_locked, message=message)
