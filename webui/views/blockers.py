"""Blockers: the tickets eligible for work that the last poll held back, and why."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from controller.web.context import context_of
from controller.web.inbox import blockers_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Work", "Blockers", "/admin/blockers", 5))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    context = context_of(request)
    values = {"panel": PANEL, "now": context.clock(), "blockers": await blockers_of(context)}
    return render(request, "panels/blockers.html", values, session=session)
