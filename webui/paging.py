"""What a paged panel reads from its links: the cursor and page size of the API listing it shows.

A link the panel did not make (a mangled cursor, a page size out of range) shows the first page
with a note rather than an error page: the panel is still worth reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from controller.web.errors import ApiError
from controller.web.paging import Position, cursor_of
from controller.web.routing import limit_of

NOT_OURS = "That page link is not one this panel made: here is the first page."


@dataclass(frozen=True)
class PanelPage:
    position: Position | None
    limit: int
    link_limit: int | None
    """The page size the Previous / Next links carry: None for the default."""
    note: str | None


def panel_page(request: web.Request, *, arity: int, default: int, maximum: int) -> PanelPage:
    try:
        position = cursor_of(request, arity)
        limit = limit_of(request, default, maximum)
    except ApiError:
        return PanelPage(position=None, limit=default, link_limit=None, note=NOT_OURS)
    return PanelPage(position=position, limit=limit, link_limit=None if limit == default else limit, note=None)
