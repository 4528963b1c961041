"""The /admin routes: sign-in, sign-out, the static assets, and every panel's views."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aiohttp import web

from controller.web.auth import check_access_code
from controller.web.clients import client_address
from controller.web.context import context_of
from webui import views
from webui.pages import signed_in
from webui.rendering import SECURITY_HEADERS, render
from webui.session import CrossSiteRefused, Session, check_same_origin, current_session, end_session, start_session

STATIC: Final = Path(__file__).parent / "static"
HOME: Final = "/admin/overview"


def add_admin_ui(app: web.Application) -> None:
    """Mount the admin UI on the API's application."""
    app.router.add_get("/admin", _home)
    app.router.add_get("/admin/", _home)
    app.router.add_get("/admin/sign-in", _sign_in_page)
    app.router.add_post("/admin/sign-in", _sign_in)
    app.router.add_post("/admin/sign-out", signed_in(_sign_out))
    app.router.add_static("/admin/static", STATIC, append_version=True)
    app.on_response_prepare.append(_static_headers)
    views.add_routes(app.router)


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/admin/static/"):
        for name in ("X-Content-Type-Options", "Cross-Origin-Resource-Policy", "Content-Security-Policy"):
            response.headers[name] = SECURITY_HEADERS[name]


async def _home(request: web.Request) -> web.StreamResponse:
    target = HOME if current_session(request) is not None else "/admin/sign-in"
    raise web.HTTPSeeOther(target)


def _next_page(given: str | None) -> str:
    """Where to go after signing in: an /admin page of this site, never elsewhere."""
    if given and given.startswith("/admin/") and not given.startswith("//") and "\\" not in given:
        return given
    return HOME


async def _sign_in_page(request: web.Request) -> web.StreamResponse:
    if current_session(request) is not None:
        raise web.HTTPSeeOther(_next_page(request.query.get("next")))
    values = {"error": None, "next": _next_page(request.query.get("next")), "title": "Sign in"}
    return render(request, "sign_in.html", values, session=None)


async def _sign_in(request: web.Request) -> web.StreamResponse:
    context = context_of(request)
    assert context.admin_tokens is not None, "the auth middleware answers 404 while the UI is disabled"
    form = await request.post()
    target = _next_page(str(form.get("next") or ""))
    try:
        check_same_origin(request)
    except CrossSiteRefused as refused:
        return _sign_in_error(request, str(refused), target, 403)
    verdict = check_access_code(context, client_address(request), str(form.get("code") or ""))
    if verdict.status == 429:
        return _sign_in_error(
            request, f"Too many failed attempts: try again in {verdict.retry_after} seconds.", target, 429
        )
    if not verdict.ok:
        return _sign_in_error(request, "That access code is not right.", target, 401)
    response = web.HTTPSeeOther(target)
    start_session(request, response)
    raise response


def _sign_in_error(request: web.Request, message: str, target: str, status: int) -> web.Response:
    values = {"error": message, "next": target, "title": "Sign in"}
    return render(request, "sign_in.html", values, session=None, status=status)


async def _sign_out(request: web.Request, session: Session) -> web.StreamResponse:
    del session
    response = web.HTTPSeeOther("/admin/sign-in")
    end_session(response)
    raise response
