"""Settings: the restart-bound settings kept in the store, with the environment's override and restart flag."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from pydantic import ValidationError

from controller.web.audit import ui_actor_of
from controller.web.context import context_of
from controller.web.orchestrator_settings import OrchestratorSettingsChange, settings_of, update_settings_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Platform", "Settings", "/admin/settings", 5))
FIELDS: Final = {"flySessionsApp": "Fly sessions app", "flySessionsRegion": "Fly sessions region"}


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_post(PANEL.path, signed_in(_save))


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    return await _show(request, session, {}, None)


async def _save(request: web.Request, session: Session) -> web.StreamResponse:
    form = await request.post()
    given = {name: str(form.get(name, "")).strip() for name in FIELDS if str(form.get(name, "")).strip()}
    if not given:
        return await _show(request, session, {"flySessionsApp": "Give at least one value to store."}, None)
    try:
        change = OrchestratorSettingsChange.model_validate(given)
    except ValidationError as invalid:
        errors = {str(error["loc"][0]): error["msg"] for error in invalid.errors() if error["loc"]}
        return await _show(request, session, errors or {"flySessionsApp": str(invalid)}, None)
    await update_settings_of(context_of(request), change, ui_actor_of(request))
    return await _show(
        request, session, {}, "Stored. A value that differs from the running one takes effect at the next start."
    )


async def _show(
    request: web.Request, session: Session, errors: dict[str, str], saved: str | None
) -> web.StreamResponse:
    context = context_of(request)
    settings = await settings_of(context)
    rows = [
        ("flySessionsApp", FIELDS["flySessionsApp"], "FLY_SESSIONS_APP", settings.fly_sessions_app),
        ("flySessionsRegion", FIELDS["flySessionsRegion"], "FLY_SESSIONS_REGION", settings.fly_sessions_region),
    ]
    values = {"rows": rows, "errors": errors, "saved": saved, "now": context.clock(), "panel": PANEL}
    return render(request, "panels/settings.html", values, session=session)
