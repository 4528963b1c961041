"""/api/settings: the Fly app and region for sessions, stored here, overridable by the environment."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from controller import constants
from controller.config.overrides import ValueSource, resolve_restart_bound_setting
from controller.web.audit import actor_of, record_change_by
from controller.web.context import WebContext, context_of
from controller.web.models import CamelModel, PartialUpdate
from controller.web.routing import ApiRouter, read_body, respond

router = ApiRouter(tag="settings")

FLY_APP_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
FLY_REGION_PATTERN = r"^[a-z]{3}$"


class SettingView(CamelModel):
    """One restart-bound setting: stored value, environment value, the value in use, and why."""

    stored: str | None = Field(description="The value saved through this API.")
    stored_at: datetime | None
    stored_by: str | None
    environment: str | None = Field(description="The environment variable's value, when set.")
    runtime: str | None = Field(description="The value the running controller uses.")
    source: ValueSource = Field(description="Where the runtime value comes from.")
    env_override: bool = Field(description="True while the environment variable wins over the stored value.")
    restart_required: bool = Field(description="True when the next start would use a different value.")


class OrchestratorSettings(CamelModel):
    fly_sessions_app: SettingView = Field(description="Overridden by FLY_SESSIONS_APP.")
    fly_sessions_region: SettingView = Field(description="Overridden by FLY_SESSIONS_REGION.")


class OrchestratorSettingsChange(PartialUpdate):
    """At least one of the two; each must look like what Fly accepts."""

    fly_sessions_app: str | None = Field(
        default=None,
        pattern=FLY_APP_NAME_PATTERN,
        description="Fly app for session machines: lower-case letters, digits and -, at most 63 characters.",
    )
    fly_sessions_region: str | None = Field(
        default=None, pattern=FLY_REGION_PATTERN, description="Default Fly region: three lower-case letters, e.g. iad."
    )


_SETTINGS = (
    (constants.SETTING_FLY_SESSIONS_APP, "FLY_SESSIONS_APP", None),
    (constants.SETTING_FLY_SESSIONS_REGION, "FLY_SESSIONS_REGION", "iad"),
)


async def _setting_view(context: WebContext, key: str, variable: str, default: str | None) -> SettingView:
    stored = await context.store.get_setting(key)
    stored_now = stored.value if stored is not None and isinstance(stored.value, str) else None
    environment = getattr(context.settings, variable.lower()) if context.settings.explicitly_set(variable) else None
    resolved = resolve_restart_bound_setting(
        environment=environment,
        stored_at_start=context.stored_at_start.get(key),
        stored_now=stored_now,
        default=default,
    )
    return SettingView(
        stored=resolved.stored,
        stored_at=stored.updated_at if stored else None,
        stored_by=stored.updated_by if stored else None,
        environment=resolved.environment,
        runtime=resolved.runtime,
        source=resolved.source,
        env_override=resolved.env_override,
        restart_required=resolved.restart_required,
    )


async def settings_of(context: WebContext) -> OrchestratorSettings:
    """The restart-bound settings as the Settings panel and GET /api/settings show them."""
    app, region = [await _setting_view(context, *setting) for setting in _SETTINGS]
    return OrchestratorSettings(fly_sessions_app=app, fly_sessions_region=region)


@router.route("GET", "/api/settings", summary="Get orchestrator settings", responses={200: OrchestratorSettings})
async def get_settings(request: web.Request) -> web.Response:
    return respond(await settings_of(context_of(request)))


@router.route(
    "POST",
    "/api/settings",
    summary="Update orchestrator settings",
    description="Values that differ from the running process take effect after a restart; an environment "
    "variable (FLY_SESSIONS_APP, FLY_SESSIONS_REGION) keeps winning while it is set.",
    body=OrchestratorSettingsChange,
    responses={200: OrchestratorSettings},
)
async def update_settings(request: web.Request) -> web.Response:
    change = await read_body(request, OrchestratorSettingsChange)
    return respond(await update_settings_of(context_of(request), change, actor_of(request)))


async def update_settings_of(
    context: WebContext, change: OrchestratorSettingsChange, actor: str
) -> OrchestratorSettings:
    """Store the values given; they take effect at the next start, unless an environment variable wins."""
    values = {
        constants.SETTING_FLY_SESSIONS_APP: change.fly_sessions_app,
        constants.SETTING_FLY_SESSIONS_REGION: change.fly_sessions_region,
    }
    given = {key: value for key, value in values.items() if value is not None}
    for key, value in given.items():
        await context.store.set_setting(key, value, actor, context.clock())
    await record_change_by(context, actor, "settings.update", "settings", dict(given))
    return await settings_of(context)
