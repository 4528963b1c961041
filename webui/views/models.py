"""Models & providers: provider, Bedrock region, planning, runner mode and model ids per project."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from controller.web.context import context_of
from controller.web.errors import ApiError
from controller.web.workflows import models_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Configure", "Models & providers", "/admin/models", 3))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    context = context_of(request)
    try:
        models, error = await models_of(context), None
    except ApiError as refused:  # the cluster has not answered yet: said in the panel
        models, error = None, refused.message
    values = {"models": models, "error": error, "now": context.clock(), "panel": PANEL}
    return render(request, "panels/models.html", values, session=session)
