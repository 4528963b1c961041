"""Customizations: every file under CUSTOM_DIR, what it overrides or adds, and what is wrong with it."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from controller.web.context import context_of
from controller.web.customizations import customizations_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Developer", "Customizations", "/admin/customizations", 2))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    context = context_of(request)
    values = {"panel": PANEL, "now": context.clock(), "listing": await customizations_of(context)}
    return render(request, "panels/customizations.html", values, session=session)
