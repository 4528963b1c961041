"""/api/runner-mode: the global runner-mode override, stored in the store, locked by RUNNER_MODE."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from controller import constants
from controller.config import RunnerMode
from controller.config.overrides import ValueSource, resolve_runner_mode
from controller.web.audit import actor_of, record_change
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, read_body, respond

router = ApiRouter(tag="runner mode")


class RunnerModeChange(CamelModel):
    mode: RunnerMode = Field(description="default, gha, fly, shadow, or local (needs LOCAL_RUNNER_IMAGE).")


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


def _accepted_modes(context: WebContext) -> list[RunnerMode]:
    modes = [RunnerMode.DEFAULT, RunnerMode.GHA, RunnerMode.FLY, RunnerMode.SHADOW]
    return [*modes, RunnerMode.LOCAL] if context.settings.local_runner_image is not None else modes


def _as_runner_mode(value: str | None) -> RunnerMode | None:
    """A stored value as a mode; a value from a newer or older version reads as none."""
    return RunnerMode(value) if value in set(RunnerMode) else None


async def current_runner_mode_view(context: WebContext) -> RunnerModeView:
    stored = await context.store.get_setting(constants.SETTING_RUNNER_MODE)
    stored_mode = stored.value if stored is not None and isinstance(stored.value, str) else None
    environment_mode = context.settings.runner_mode if context.settings.explicitly_set("RUNNER_MODE") else None
    resolved = resolve_runner_mode(environment_mode, stored_mode)
    return RunnerModeView(
        mode=resolved.mode,
        source=resolved.source,
        env_locked=resolved.env_locked,
        environment_mode=environment_mode,
        stored_mode=_as_runner_mode(stored_mode),
        stored_at=stored.updated_at if stored else None,
        stored_by=stored.updated_by if stored else None,
        accepted_modes=_accepted_modes(context),
    )


@router.route("GET", "/api/runner-mode", summary="Get the current runner mode", responses={200: RunnerModeView})
async def get_runner_mode(request: web.Request) -> web.Response:
    return respond(await current_runner_mode_view(context_of(request)))


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
    context = context_of(request)
    change = await read_body(request, RunnerModeChange)
    if change.mode not in _accepted_modes(context):
        raise ApiError(
            422,
            "mode_not_available",
            "runner mode local needs LOCAL_RUNNER_IMAGE to be set on the controller",
        )
    await context.store.set_setting(
        constants.SETTING_RUNNER_MODE, change.mode.value, actor_of(request), context.clock()
    )
    await record_change(request, "runner-mode.set", "runnerMode", {"mode": change.mode.value})
    view = await current_runner_mode_view(context)
    if view.env_locked:
        message = (
            f"stored {change.mode.value}, but RUNNER_MODE={view.mode.value} is set in the environment and wins: "
            "the stored value takes effect once the variable is removed and the controller restarted"
        )
    else:
        message = f"runner mode is now {change.mode.value}"
    return respond(RunnerModeChangeResult(**view.model_dump(), applied=not view.env_locked, message=message))
