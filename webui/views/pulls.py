"""Pull requests: every bot-opened pull request being followed, to spot the stalled and the failing."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from controller.web.context import context_of
from controller.web.pulls import pulls_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Work", "Pull requests", "/admin/pulls", 4))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_get(f"{PANEL.path}/live", signed_in(_live))


async def _values(request: web.Request) -> dict[str, object]:
    context = context_of(request)
    return {"panel": PANEL, "now": context.clock(), "pulls": await pulls_of(context)}


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/pulls.html", await _values(request), session=session)


async def _live(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/pulls_live.html", await _values(request), session=session)
