"""Issues: the inbox of every ticket a mapping matches, and the in-progress counts per mapping."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from controller.web.context import context_of
from controller.web.errors import ApiError
from controller.web.inbox import issue_inbox_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Work", "Issues", "/admin/issues", 2))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    """The inbox needs the mappings listed; until the cluster answers, the panel says so instead of failing."""
    context = context_of(request)
    values: dict[str, object] = {"panel": PANEL, "now": context.clock(), "inbox": None, "problem": None}
    try:
        values["inbox"] = await issue_inbox_of(context)
    except ApiError as error:
        values["problem"] = error.message
    return render(request, "panels/issues.html", values, session=session)
