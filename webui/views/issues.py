"""Issues: the inbox of every ticket a mapping matches, a page at a time, with the load of the page's mappings.

The page is the one `GET /api/issues` answers (100 tickets, then Previous / Next links that carry
its cursors).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from controller.web.context import context_of
from controller.web.errors import ApiError
from controller.web.inbox import ISSUE_PAGE, MAX_ISSUE_PAGE, issue_inbox_of
from controller.web.mappings import mapping_index_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.paging import panel_page
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Work", "Issues", "/admin/issues", 2))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    """The inbox needs the mappings listed; until the cluster answers, the panel says so instead of failing."""
    context = context_of(request)
    asked = panel_page(request, arity=3, default=ISSUE_PAGE, maximum=MAX_ISSUE_PAGE)
    values: dict[str, object] = {
        "panel": PANEL,
        "now": context.clock(),
        "inbox": None,
        "problem": None,
        "note": asked.note,
        "limit": asked.link_limit,
        "has_mappings": False,
    }
    try:
        values["inbox"] = await issue_inbox_of(context, asked.position, asked.limit)
        values["has_mappings"] = bool(mapping_index_of(context).views)
    except ApiError as error:
        values["problem"] = error.message
    return render(request, "panels/issues.html", values, session=session)
