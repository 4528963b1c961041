"""Routes declared with their request and response models, so the OpenAPI document is never hand-written.

Each feature module owns an `ApiRouter`; the app factory adds every router's endpoints to the
aiohttp router and `openapi.py` describes the same endpoints.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from controller.web.errors import ApiError, validation_failed

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ModelT = TypeVar("ModelT", bound=BaseModel)


class Access(StrEnum):
    """Who may call an endpoint, decided by the auth middleware before the handler runs."""

    ADMIN = "admin"
    """A valid admin bearer token; 404 for everyone while ADMIN_ACCESS_CODE is unset."""
    LOGIN = "login"
    """Anyone, but only while ADMIN_ACCESS_CODE is set (POST /api/auth)."""
    OWN_SECRET = "own-secret"
    """The handler checks its own secret (webhooks, callbacks, triggers); never the admin token."""
    PUBLIC = "public"
    """Anyone, always (health, readiness; metrics are on their own port)."""
    UI = "ui"
    """The admin UI under /admin: 404 while ADMIN_ACCESS_CODE is unset; its pages check the session cookie."""


@dataclass(frozen=True)
class QueryParameter:
    """One query-string parameter as the OpenAPI document describes it."""

    description: str
    required: bool = False
    schema: Mapping[str, Any] | None = None
    """Its JSON schema (an enum, an integer range); a string by default."""


@dataclass(frozen=True)
class Endpoint:
    """One route and everything the OpenAPI document says about it."""

    method: str
    path: str
    handler: RouteHandler
    summary: str
    access: Access
    tag: str
    request_model: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    query: dict[str, QueryParameter] = field(default_factory=dict)
    description: str = ""


@dataclass
class ApiRouter:
    """The endpoints of one feature, in declaration order."""

    tag: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        responses: dict[int, type[BaseModel] | None],
        body: type[BaseModel] | None = None,
        access: Access = Access.ADMIN,
        query: dict[str, QueryParameter] | None = None,
        description: str = "",
    ) -> Callable[[RouteHandler], RouteHandler]:
        def register(handler: RouteHandler) -> RouteHandler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    access=access,
                    tag=self.tag,
                    request_model=body,
                    responses=responses,
                    query=query or {},
                    description=description,
                )
            )
            return handler

        return register


async def read_body(request: web.Request, model: type[ModelT]) -> ModelT:
    """The request body as `model`, or a 400 (not JSON) / 422 (wrong shape) naming the problem."""
    if not request.body_exists:
        raise ApiError(400, "body_required", "this endpoint needs a JSON body")
    raw = await request.read()
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(issue["type"] == "json_invalid" for issue in error.errors()):
            raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
        raise validation_failed(error) from None


def respond(model: BaseModel, status: int = 200) -> web.Response:
    """A JSON response from a model, by alias, as the OpenAPI document describes it."""
    return web.json_response(model.model_dump(mode="json", by_alias=True), status=status)


def path_param(request: web.Request, name: str) -> str:
    value: str = request.match_info[name]
    return value


ENDPOINTS_BY_ROUTE = web.AppKey("endpoints_by_route", dict[web.AbstractRoute, Endpoint])


def add_endpoints(app: web.Application, endpoints: list[Endpoint]) -> None:
    """Register endpoints with aiohttp and remember which route is which endpoint, for the middlewares."""
    by_route = app.setdefault(ENDPOINTS_BY_ROUTE, {})
    for endpoint in endpoints:
        by_route[app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)] = endpoint


def endpoint_of(request: web.Request) -> Endpoint | None:
    """The endpoint the request matched, or None (unknown path, wrong method)."""
    return request.app[ENDPOINTS_BY_ROUTE].get(request.match_info.route)


def reject_unknown_query(request: web.Request) -> None:
    """A misspelt filter must not silently list everything: 422 naming what the endpoint takes."""
    endpoint = endpoint_of(request)
    allowed = set(endpoint.query) if endpoint is not None else set()
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            422,
            "unknown_query_parameter",
            f"unknown query parameter {', '.join(repr(name) for name in unknown)}: this endpoint takes {takes}",
        )


def limit_parameter(default: int, maximum: int, *, order: str = "newest first") -> dict[str, QueryParameter]:
    """The `limit` query parameter of a listing as the OpenAPI document declares it (`limit_of` reads it)."""
    return {
        "limit": QueryParameter(
            f"How many, {order}: 1 to {maximum} (default {default}).",
            schema={"type": "integer", "minimum": 1, "maximum": maximum},
        )
    }


def limit_of(request: web.Request, default: int, maximum: int) -> int:
    """The `limit` query parameter of a listing: a whole number from 1 to `maximum`, else 422."""
    text = request.query.get("limit")
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= maximum:
        raise ApiError(422, "invalid_limit", f"limit={text!r} is not a whole number from 1 to {maximum}")
    return int(text)
