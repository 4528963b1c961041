"""What every admin page handler gets: a signed-in session (or the sign-in page), and CSRF checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from aiohttp import web

from webui.session import SAFE_METHODS, CrossSiteRefused, Session, check_csrf, current_session

PageHandler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


def signed_in(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Run `handler` with the session; without one, GETs go to the sign-in page and the rest get 401."""

    @wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        session = current_session(request)
        if session is None:
            if request.method in SAFE_METHODS and request.headers.get("HX-Request") != "true":
                raise web.HTTPSeeOther(f"/admin/sign-in?next={quote(request.path_qs, safe='/')}")
            response = web.Response(status=401, text="Your session has ended: sign in again.")
            response.headers["HX-Redirect"] = "/admin/sign-in"
            return response
        if request.method not in SAFE_METHODS:
            try:
                await check_csrf(request, session)
            except CrossSiteRefused as refused:
                return web.Response(status=403, text=f"Refused: {refused}")
        return await handler(request, session)

    return checked
