"""Runners: the runner-mode override, live sessions, capacity, reaper destructions, modes per project."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from controller.web.context import context_of
from controller.web.runners import runners_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Platform", "Runners", "/admin/runners", 1))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_get(f"{PANEL.path}/live", signed_in(_live))


async def _values(request: web.Request) -> dict[str, object]:
    context = context_of(request)
    return {"runners": await runners_of(context), "now": context.clock(), "panel": PANEL}


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/runners.html", await _values(request), session=session)


async def _live(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/runners_live.html", await _values(request), session=session)
