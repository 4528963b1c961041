"""One module per sidebar panel (or group of small ones); each registers its panel and its routes."""

from __future__ import annotations

from aiohttp import web

from webui.views import overview


def add_routes(router: web.UrlDispatcher) -> None:
    for module in (overview,):
        module.add_routes(router)
