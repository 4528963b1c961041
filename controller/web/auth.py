"""Who may call what: the admin token check, and POST /api/auth that hands tokens out."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from controller.web.clients import client_address
from controller.web.context import context_of
from controller.web.errors import ApiError, Handler
from controller.web.models import CamelModel
from controller.web.routing import Access, ApiRouter, endpoint_of, read_body, respond

router = ApiRouter(tag="auth")

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
    client = client_address(request)
    now = context.clock()
    # Check, compare and record with no await in between, so that parallel attempts cannot all pass
    # the check before any of them is recorded.
    wait = context.login_throttle.retry_after(client, now)
    if wait is not None:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed attempts from this client; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    if not tokens.code_matches(body.code):
        context.login_throttle.record_failure(client, now)
        raise ApiError(401, "invalid_code", "the access code is wrong")
    context.login_throttle.forget(client)
    issued = tokens.issue(now)
    return respond(AuthResponse(token=issued.token, expires_at=issued.expires_at))


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
