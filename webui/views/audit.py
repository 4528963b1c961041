"""Audit log: the dispatch-deduplication ledger (removing a ticket from it, confirmed first), and
the admin changes recorded in the audit trail.

A ticket dispatched in the last 24 hours is not dispatched again; removing its entry lets the next
poll pick it up sooner.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from controller.web.audit import audit_trail_of, ui_actor_of
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.inbox import DedupRow, dedup_window_of, remove_from_dedup
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Developer", "Audit log", "/admin/audit", 1))
ENTRY: Final = f"{PANEL.path}/dedup/{{issueId}}"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_get(ENTRY, signed_in(_row))
    router.add_get(f"{ENTRY}/confirm", signed_in(_confirm))
    router.add_delete(ENTRY, signed_in(_remove))


async def _window_values(context: WebContext, message: str | None, problem: str | None) -> dict[str, object]:
    return {
        "panel": PANEL,
        "now": context.clock(),
        "entries": (await dedup_window_of(context)).entries,
        "message": message,
        "problem": problem,
    }


async def _entry(context: WebContext, issue_id: str) -> DedupRow | None:
    return next((entry for entry in (await dedup_window_of(context)).entries if entry.issue_id == issue_id), None)


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    context = context_of(request)
    values = await _window_values(context, None, None)
    values["changes"] = (await audit_trail_of(context)).changes
    return render(request, "panels/audit.html", values, session=session)


async def _row(request: web.Request, session: Session) -> web.StreamResponse:
    """The entry's row as the table shows it: what "Keep it" puts back (nothing once it has expired)."""
    context = context_of(request)
    entry = await _entry(context, request.match_info["issueId"])
    values = {"panel": PANEL, "now": context.clock(), "entry": entry, "confirm": False}
    return render(request, "panels/audit_dedup_row.html", values, session=session)


async def _confirm(request: web.Request, session: Session) -> web.StreamResponse:
    context = context_of(request)
    entry = await _entry(context, request.match_info["issueId"])
    values = {"panel": PANEL, "now": context.clock(), "entry": entry, "confirm": True}
    return render(request, "panels/audit_dedup_row.html", values, session=session)


async def _remove(request: web.Request, session: Session) -> web.StreamResponse:
    """DELETE /api/dedup/:issueId's removal, recorded as the UI's; answers the whole window, row gone."""
    context = context_of(request)
    issue_id = request.match_info["issueId"]
    entry = await _entry(context, issue_id)
    name = entry.identifier if entry is not None else issue_id
    message, problem = None, None
    try:
        await remove_from_dedup(context, issue_id, ui_actor_of(request))
    except ApiError as error:
        problem = f"{name} was not removed: {error.message}"
    else:
        message = f"{name} left the dedup window: the next poll may dispatch it again."
    values = await _window_values(context, message, problem)
    return render(request, "panels/audit_dedup.html", values, session=session)
