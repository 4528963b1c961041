"""The API server's app factory: middlewares, routes and the OpenAPI document, assembled in one place."""

from __future__ import annotations

import time

from aiohttp import web

from controller.metrics import API_REQUEST_SECONDS, API_REQUESTS
from controller.web import (
    audit,
    auth,
    config_status,
    customizations,
    gap_fill,
    github_webhook,
    health,
    inbox,
    jira_admin,
    jobs,
    mappings,
    orchestrator_settings,
    overview,
    pulls,
    reaper,
    runner_brief,
    runner_callbacks,
    runner_mode,
    runners,
    secrets,
    sessions,
    ticket_webhooks,
    workflows,
)
from controller.web.context import CONTEXT, WebContext
from controller.web.errors import Handler, error_middleware
from controller.web.openapi import openapi_document
from controller.web.routing import Access, ApiRouter, Endpoint, add_endpoints, endpoint_of
from webui import add_admin_ui

ROUTERS: tuple[ApiRouter, ...] = (
    health.router,
    auth.router,
    mappings.router,
    runner_mode.router,
    orchestrator_settings.router,
    secrets.router,
    config_status.router,
    inbox.router,
    jobs.router,
    jira_admin.router,
    ticket_webhooks.router,
    github_webhook.router,
    gap_fill.router,
    pulls.router,
    sessions.router,
    reaper.router,
    runner_callbacks.router,
    runner_brief.router,
    workflows.router,
    customizations.router,
    overview.router,
    runners.router,
    audit.router,
)

OPENAPI = web.AppKey("openapi", dict)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request by route template, never by raw path."""
    started = time.perf_counter()
    endpoint = endpoint_of(request)
    resource = request.match_info.route.resource
    route = endpoint.path if endpoint is not None else (resource.canonical if resource is not None else "unmatched")
    response = await handler(request)
    API_REQUEST_SECONDS.labels(route, request.method).observe(time.perf_counter() - started)
    API_REQUESTS.labels(route, request.method, str(response.status)).inc()
    return response


def all_endpoints() -> list[Endpoint]:
    return [endpoint for router in ROUTERS for endpoint in router.endpoints]


def build_app() -> web.Application:
    """Middlewares and routes; the `WebContext` is attached by `init_app` or by the server's lifecycle."""
    app = web.Application(middlewares=[metrics_middleware, error_middleware, auth.auth_middleware])
    endpoints = [*all_endpoints(), OPENAPI_ENDPOINT]
    app[OPENAPI] = openapi_document(endpoints)
    add_endpoints(app, endpoints)
    add_admin_ui(app)
    return app


def init_app(context: WebContext) -> web.Application:
    """The app over an opened `WebContext`; the caller owns the context's lifetime (tests do)."""
    app = build_app()
    app[CONTEXT] = context
    return app


async def serve_openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


OPENAPI_ENDPOINT = Endpoint(
    method="GET",
    path="/api/openapi.json",
    handler=serve_openapi,
    summary="This API's OpenAPI 3.1 document",
    access=Access.ADMIN,
    tag="operations",
    responses={200: None},
)
