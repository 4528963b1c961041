"""Who may call what: the admin token check, and POST /api/auth that hands tokens out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from controller.web.clients import client_address
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError, Handler
from controller.web.models import CamelModel
from controller.web.routing import Access, ApiRouter, endpoint_of, read_body, respond
from controller.web.throttle import client_key

router = ApiRouter(tag="auth")
logger = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}
"""What answers carrying a token or a verdict on the code must never be: kept by a cache."""

_ADMIN_PREFIXES = ("/api/",)


class AuthRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=1024, description="The ADMIN_ACCESS_CODE.")


class AuthResponse(CamelModel):
    token: str = Field(description="Bearer token for every other /api/* route; a JWT, see docs/api.md.")
    expires_at: datetime = Field(description="When the token stops working (24 hours after issue).")


@router.route(
    "POST",
    "/api/auth",
    summary="Exchange the access code for a bearer token",
    body=AuthRequest,
    responses={200: AuthResponse, 401: None, 429: None},
    access=Access.LOGIN,
)
async def authenticate(request: web.Request) -> web.Response:
    context = context_of(request)
    tokens = context.admin_tokens
    assert tokens is not None, "the auth middleware answers 404 while the admin API is disabled"
    body = await read_body(request, AuthRequest)
    verdict = check_access_code(context, client_address(request), body.code)
    if not verdict.ok:
        headers = NO_STORE | ({"Retry-After": str(verdict.retry_after)} if verdict.retry_after else {})
        code = "too_many_attempts" if verdict.status == 429 else "invalid_code"
        raise ApiError(verdict.status, code, verdict.message, headers=headers)
    issued = tokens.issue(context.clock())
    response = respond(AuthResponse(token=issued.token, expires_at=issued.expires_at))
    response.headers.update(NO_STORE)
    return response


@dataclass(frozen=True, slots=True)
class SignInVerdict:
    ok: bool
    status: int
    """200, 401 (a wrong code) or 429 (wait `retry_after` seconds)."""
    message: str = ""
    retry_after: int | None = None


def check_access_code(context: WebContext, client: str, code: str) -> SignInVerdict:
    """One sign-in attempt, for the JSON API and the admin UI alike.

    Nothing here awaits, so parallel attempts are counted one by one. A correct code is let through
    unless the global failure budget is spent; every failure is logged with its client's bucket.
    """
    tokens = context.admin_tokens
    assert tokens is not None
    throttle, now = context.login_throttle, context.clock()
    wait = throttle.refusal(now)
    if wait is not None:
        logger.warning(
            "sign-in from %s not checked: too many failed sign-ins everywhere, %d s to wait", client_key(client), wait
        )
        return SignInVerdict(False, 429, f"too many failed sign-ins recently; try again in {wait} seconds", wait)
    if tokens.code_matches(code):
        throttle.succeeded(client)
        return SignInVerdict(True, 200)
    over = throttle.failed(client, now)
    logger.warning(
        "failed sign-in from %s (%d in the last %d minutes)",
        client_key(client),
        throttle.recent_failures(client, now),
        int(throttle.window.total_seconds() // 60),
    )
    if over is not None:
        return SignInVerdict(
            False, 429, f"too many failed attempts from this client; try again in {over} seconds", over
        )
    return SignInVerdict(False, 401, "the access code is wrong")


def _bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _access_for(request: web.Request) -> Access:
    """The matched endpoint's access; unknown admin paths need a token, a wrong method on a known one gets 405."""
    endpoint = endpoint_of(request)
    if endpoint is not None:
        return endpoint.access
    if request.path == "/admin" or request.path.startswith("/admin/"):
        return Access.UI
    is_admin_path = request.path.startswith(_ADMIN_PREFIXES)
    if not is_admin_path:
        return Access.PUBLIC
    if isinstance(request.match_info.http_exception, web.HTTPMethodNotAllowed):
        return Access.LOGIN
    return Access.ADMIN


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """404 for the whole admin surface while ADMIN_ACCESS_CODE is unset, 401 without a valid token."""
    access = _access_for(request)
    if access is Access.UI and context_of(request).admin_tokens is None:
        raise ApiError(404, "not_found", "not found")
    if access in (Access.ADMIN, Access.LOGIN):
        tokens = context_of(request).admin_tokens
        if tokens is None:
            raise ApiError(404, "not_found", "not found")
        if access is Access.ADMIN:
            token = _bearer_token(request)
            if token is None or not tokens.is_valid(token, context_of(request).clock()):
                raise ApiError(
                    401,
                    "unauthorized",
                    "a valid bearer token is required: POST the access code to /api/auth to get one",
                    headers={"WWW-Authenticate": 'Bearer realm="ai-implement"'},
                )
    return await handler(request)
