"""Pipelines & steps: what each pipeline runs, step by step, and what CUSTOM_DIR overrides or adds.

The catalog is read afresh on every load, like GET /api/pipelines-steps, so that an operator who has
just edited a custom file sees it (and its problem) at once.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from controller.web.context import context_of
from controller.web.customizations import pipelines_steps_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Configure", "Pipelines & steps", "/admin/pipelines-steps", 2))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    context = context_of(request)
    listing = await pipelines_steps_of(context)
    values = {
        "panel": PANEL,
        "now": context.clock(),
        "listing": listing,
        "steps_by_id": {step.id: step for step in listing.steps},
    }
    return render(request, "panels/pipelines_steps.html", values, session=session)
