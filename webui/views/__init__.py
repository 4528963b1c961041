"""One module per sidebar panel (or a few small ones); each registers its panel and adds its routes.

Every module of this package is a view: `add_routes` imports them all, so a new panel is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

from aiohttp import web


def add_routes(router: web.UrlDispatcher) -> None:
    for found in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name):
        module = importlib.import_module(f"{__name__}.{found.name}")
        module.add_routes(router)
