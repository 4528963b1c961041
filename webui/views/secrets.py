"""Secrets: the global secrets and each team's, set and deleted here; values are write-only.

A value typed here goes to the secrets backend and is never shown or sent back again, not even
when the name is refused. Every change goes through the functions of /api/global-secrets and
/api/mappings/:teamKey/secrets and is recorded in the audit trail.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import SecretStr, ValidationError

from controller.web.audit import ui_actor_of
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.mappings import mappings_of
from controller.web.secrets import (
    SecretWrite,
    delete_global_secret_of,
    delete_team_secret_of,
    global_secrets_of,
    secrets_by_scope_of,
    set_global_secret_of,
    set_team_secret_of,
    team_secrets_of,
)
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Platform", "Secrets", "/admin/secrets", 4))
GLOBAL: Final = "global"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_post(f"{PANEL.path}/{{scope}}", signed_in(_set))
    router.add_post(f"{PANEL.path}/{{scope}}/{{name}}/delete", signed_in(_delete))


async def _section(context: WebContext, scope: str, **extra: Any) -> dict[str, Any]:
    """One scope's list (or why it cannot be read), with what the last action said."""
    try:
        listed = await (global_secrets_of(context) if scope == GLOBAL else team_secrets_of(context, scope))
        names, error = listed.secrets, None
    except ApiError as refused:
        names, error = [], refused.message
    return {"scope": scope, "secrets": names, "list_error": error, **extra}


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    """The global secrets and every team that has some, from one read of the backend; any other team's
    section (empty, with its form) when chosen as `?team=`."""
    context = context_of(request)
    try:
        teams = [view.team_key for view in mappings_of(context)]
        error = None
    except ApiError as refused:
        teams, error = [], refused.message
    chosen = request.query.get("team", "")
    try:
        by_scope = await secrets_by_scope_of(context)
        list_error = None
    except ApiError as refused:
        by_scope, list_error = {}, refused.message
    shown = [team for team in teams if team in by_scope or team == chosen]
    sections = [
        {
            "scope": scope,
            "secrets": listed.secrets if (listed := by_scope.get(None if scope == GLOBAL else scope)) else [],
            "list_error": list_error,
        }
        for scope in [GLOBAL, *shown]
    ]
    values = {
        "sections": sections,
        "others": [team for team in teams if team not in shown],
        "unknown_team": chosen if chosen and chosen not in teams else None,
        "error": error,
        "backend": context.secrets.kind,
        "now": context.clock(),
        "panel": PANEL,
    }
    return render(request, "panels/secrets.html", values, session=session)


def _render_section(request: web.Request, session: Session, section: dict[str, Any]) -> web.Response:
    values = {"section": section, "now": context_of(request).clock(), "panel": PANEL}
    return render(request, "panels/secrets_section.html", values, session=session)


async def _set(request: web.Request, session: Session) -> web.StreamResponse:
    context, scope = context_of(request), request.match_info["scope"]
    form = await request.post()
    name, value = str(form.get("name", "")).strip(), str(form.get("value", ""))
    actor = ui_actor_of(request)
    try:
        if scope == GLOBAL:
            await set_global_secret_of(context, SecretWrite(name=name, value=SecretStr(value)), actor)
        else:
            written = SecretWrite(name=name, value=SecretStr(value))
            team_keys = [view.team_key for view in mappings_of(context)]
            await set_team_secret_of(context, scope, written.name, written.value, team_keys, actor)
    except ValidationError as invalid:
        said = "; ".join(error["msg"].removeprefix("Value error, ") for error in invalid.errors())
        section = await _section(context, scope, form_error=said, typed_name=name)
        return _render_section(request, session, section)
    except ApiError as refused:
        section = await _section(context, scope, form_error=refused.message, typed_name=name)
        return _render_section(request, session, section)
    return _render_section(request, session, await _section(context, scope, saved=name))


async def _delete(request: web.Request, session: Session) -> web.StreamResponse:
    context, scope, name = context_of(request), request.match_info["scope"], request.match_info["name"]
    try:
        if scope == GLOBAL:
            await delete_global_secret_of(context, name, ui_actor_of(request))
        else:
            await delete_team_secret_of(context, scope, name, ui_actor_of(request))
    except ApiError as refused:
        return _render_section(request, session, await _section(context, scope, form_error=refused.message))
    return _render_section(request, session, await _section(context, scope, deleted=name))
