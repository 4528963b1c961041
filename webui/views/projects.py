"""Projects: the mappings a page at a time, with their state, the cap and pause edited in place, workflow
sync, delete.

The page is the one `GET /api/mappings` answers (100 by team key, then Previous / Next links that
carry its cursors). Each action goes through the same service functions as /api/mappings and
answers the row (or the table) for htmx to swap in, so the page never reloads. A refused change (a
cap out of range, the API server's validation, GitHub's refusal) is said beside the control that
caused it.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import ValidationError

from controller.kube.errors import KubeError
from controller.web.audit import ui_actor_of
from controller.web.context import context_of
from controller.web.errors import ApiError
from controller.web.mappings import (
    MAPPING_PAGE,
    MAX_MAPPING_PAGE,
    MappingList,
    MappingPatch,
    delete_mapping_of,
    mapping_of,
    mapping_page_of,
    patch_mapping_of,
)
from controller.web.workflows import sync_workflows_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.paging import panel_page
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Configure", "Projects", "/admin/projects", 1))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_get(f"{PANEL.path}/{{teamKey:[A-Z][A-Z0-9_]*}}", signed_in(_show_row))  # not /admin/projects/new
    router.add_post(f"{PANEL.path}/{{teamKey}}/capacity", signed_in(_set_capacity))
    router.add_post(f"{PANEL.path}/{{teamKey}}/paused", signed_in(_set_paused))
    router.add_post(f"{PANEL.path}/{{teamKey}}/sync-workflows", signed_in(_sync))
    router.add_get(f"{PANEL.path}/{{teamKey}}/delete", signed_in(_confirm_delete))
    router.add_post(f"{PANEL.path}/{{teamKey}}/delete", signed_in(_delete))


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    context = context_of(request)
    asked = panel_page(request, arity=1, default=MAPPING_PAGE, maximum=MAX_MAPPING_PAGE)
    page, error = MappingList(mappings=[]), asked.note
    try:
        page = mapping_page_of(context, asked.position, asked.limit)
    except ApiError as refused:
        error = refused.message
    values = {"page": page, "limit": asked.link_limit, "error": error, "now": context.clock(), "panel": PANEL}
    return render(request, "panels/projects.html", values, session=session)


async def _show_row(request: web.Request, session: Session) -> web.StreamResponse:
    """The row as it is now: what "Keep it" puts back in place of the delete confirmation."""
    return _row(request, session, request.match_info["teamKey"])


def _row(request: web.Request, session: Session, team_key: str, **extra: Any) -> web.Response:
    context = context_of(request)
    try:
        view = mapping_of(context, team_key)
    except ApiError:
        view = None
    if view is None:
        return web.Response(status=404, text=f"There is no mapping {team_key} any more: reload the page.")
    values = {"row": view, "now": context.clock(), "panel": PANEL, **extra}
    return render(request, "panels/project_row.html", values, session=session)


async def _set_capacity(request: web.Request, session: Session) -> web.StreamResponse:
    team_key = request.match_info["teamKey"]
    form = await request.post()
    try:
        patch = MappingPatch.model_validate({"maxInProgressAiIssues": _whole(str(form.get("cap", "")))})
        await patch_mapping_of(context_of(request), team_key, patch, ui_actor_of(request))
    except (ValueError, ValidationError):
        return _row(request, session, team_key, cap_error="The cap is a whole number from 0 to 100.")
    except (ApiError, KubeError) as refused:
        return _row(request, session, team_key, cap_error=_said(refused))
    return _row(request, session, team_key, saved="cap")


async def _set_paused(request: web.Request, session: Session) -> web.StreamResponse:
    team_key = request.match_info["teamKey"]
    paused = (await request.post()).get("paused") == "true"
    try:
        await patch_mapping_of(context_of(request), team_key, MappingPatch(paused=paused), ui_actor_of(request))
    except (ApiError, KubeError) as refused:
        return _row(request, session, team_key, paused_error=_said(refused))
    return _row(request, session, team_key, saved="paused")


async def _sync(request: web.Request, session: Session) -> web.StreamResponse:
    team_key = request.match_info["teamKey"]
    try:
        result = await sync_workflows_of(context_of(request), team_key, ui_actor_of(request))
    except (ApiError, KubeError) as refused:
        return _row(request, session, team_key, sync_error=_said(refused))
    return _row(request, session, team_key, synced=result)


async def _confirm_delete(request: web.Request, session: Session) -> web.StreamResponse:
    return _row(request, session, request.match_info["teamKey"], confirm_delete=True)


async def _delete(request: web.Request, session: Session) -> web.StreamResponse:
    team_key = request.match_info["teamKey"]
    try:
        await delete_mapping_of(context_of(request), team_key, ui_actor_of(request))
    except (ApiError, KubeError) as refused:
        return _row(request, session, team_key, delete_error=_said(refused))
    return render(request, "panels/project_deleted.html", {"team_key": team_key, "panel": PANEL}, session=session)


def _whole(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(text)
    return int(text)


def _said(refused: ApiError | KubeError) -> str:
    return refused.message if isinstance(refused, ApiError) else str(refused)
