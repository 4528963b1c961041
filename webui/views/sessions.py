"""Sessions: every runner session the census lists, and destroy-and-reset of one, confirmed first.

The list refreshes itself; the confirmation and the reset's progress live in an action area beside
it, so that a refresh of the list never throws away a question half answered. The reset is a request
the operator carries out: the panel does not wait for it, it shows the request and re-reads it every
few seconds until it is done or failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, cast

from aiohttp import web
from pydantic import JsonValue

from controller.kube import KubeApiError
from controller.web.audit import ui_actor_of
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError, from_kube_error
from controller.web.sessions import (
    BACKENDS,
    MAX_SESSION_PAGE,
    SESSION_KEY_PARTS,
    SESSION_PAGE,
    Backend,
    SessionResetAnswer,
    destroy_and_reset,
    listed_session,
    session_reset_of,
    sessions_of,
)
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.paging import NOT_OURS, panel_page
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Platform", "Sessions", "/admin/sessions", 2))
REFRESH_SECONDS: Final = 5
PROGRESS_SECONDS: Final = 2
DETAIL_LABELS: Final = (
    ("destroyed", "Session destroyed"),
    ("dispatch", "Dispatch"),
    ("ticket", "Ticket"),
    ("markerRemoved", "In-progress marker removed"),
    ("dedupCleared", "Taken out of the dedup window"),
)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_get(f"{PANEL.path}/live", signed_in(_live))
    router.add_get(f"{PANEL.path}/destroy", signed_in(_confirm))
    router.add_post(f"{PANEL.path}/destroy", signed_in(_destroy))
    router.add_get(f"{PANEL.path}/resets/{{requestId}}", signed_in(_progress))


def reset_details(details: Mapping[str, JsonValue]) -> list[tuple[str, str]]:
    """The reset's details in words, those the operator has written so far (pure)."""
    shown = []
    for key, label in DETAIL_LABELS:
        if key not in details:
            continue
        value = details[key]
        if isinstance(value, bool):
            shown.append((label, "yes" if value else "no"))
        elif value is None:
            shown.append((label, "none"))
        elif isinstance(value, str | int | float):
            shown.append((label, str(value)))
    return shown


async def _list_values(request: web.Request) -> dict[str, object]:
    """The page the links ask for; the self-refresh asks for the same page again."""
    context = context_of(request)
    asked = panel_page(request, arity=SESSION_KEY_PARTS, default=SESSION_PAGE, maximum=MAX_SESSION_PAGE)
    position, note = asked.position, asked.note
    try:
        listing = await sessions_of(context, None, position, asked.limit)
    except ValueError:  # a cursor of the right shape whose timestamps are not ours
        listing, note = await sessions_of(context, None, None, asked.limit), NOT_OURS
    return {
        "listing": listing,
        "now": context.clock(),
        "panel": PANEL,
        "refresh_seconds": REFRESH_SECONDS,
        "note": note,
        "limit": asked.link_limit,
        "page_query": request.query_string,
    }


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/sessions.html", await _list_values(request), session=session)


async def _live(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/sessions_live.html", await _list_values(request), session=session)


def _backend(text: str) -> Backend | None:
    return cast(Backend, text) if text in BACKENDS else None


async def _confirm(request: web.Request, session: Session) -> web.StreamResponse:
    """The question before anything is destroyed, naming the session and its ticket."""
    context = context_of(request)
    machine_id = request.query.get("machine", "").strip()
    backend = _backend(request.query.get("backend", ""))
    row = await listed_session(context, machine_id, backend)
    problem = None
    if row is None:
        problem = (
            f"{machine_id or 'That session'} is no longer listed: it was destroyed or ended. "
            "The list shows the live ones."
        )
    values = {
        "panel": PANEL,
        "now": context.clock(),
        "machine_id": machine_id,
        "backend": backend or "",
        "row": row,
        "problem": problem,
    }
    return render(request, "panels/sessions_confirm.html", values, session=session)


async def _destroy(request: web.Request, session: Session) -> web.StreamResponse:
    """The same request DELETE /api/sessions/:machineId makes, recorded as the UI's; no waiting."""
    context = context_of(request)
    form = await request.post()
    machine_id = str(form.get("machine", "")).strip()
    backend = _backend(str(form.get("backend", "")))
    problem = None
    try:
        answer = await destroy_and_reset(context, machine_id, backend, ui_actor_of(request), wait=0)
    except ApiError as error:
        problem = error.message
    except KubeApiError as error:
        problem = from_kube_error(error).message
    if problem is not None:
        values = {
            "panel": PANEL,
            "now": context.clock(),
            "machine_id": machine_id,
            "backend": backend or "",
            "row": await listed_session(context, machine_id, backend),
            "problem": problem,
        }
        return render(request, "panels/sessions_confirm.html", values, session=session)
    return _render_progress(request, session, context, answer, None, focus=True)


async def _progress(request: web.Request, session: Session) -> web.StreamResponse:
    """GET /api/sessions/resets/:requestId as the action area shows it; it stops polling once finished."""
    context = context_of(request)
    try:
        answer = await session_reset_of(context, request.match_info["requestId"])
    except ApiError as error:
        return _render_progress(request, session, context, None, error.message, focus=False)
    return _render_progress(request, session, context, answer, None, focus=False)


def _render_progress(
    request: web.Request,
    session: Session,
    context: WebContext,
    answer: SessionResetAnswer | None,
    problem: str | None,
    *,
    focus: bool,
) -> web.Response:
    """The action area with the request; `focus` moves the keyboard to it once, not at every refresh."""
    values = {
        "panel": PANEL,
        "now": context.clock(),
        "reset": answer,
        "details": reset_details(answer.details) if answer is not None else [],
        "problem": problem,
        "progress_seconds": PROGRESS_SECONDS,
        "focus": focus,
    }
    return render(request, "panels/sessions_reset.html", values, session=session)
