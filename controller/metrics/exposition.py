"""`/metrics` over HTTP: one handler for both processes, and the API's own metrics-only server.

The API serves its metrics on METRICS_PORT, not on PORT, so that publishing the API's public paths
(webhooks, runner callbacks) can never publish the metrics with them (docs/deployment.md).
"""

from __future__ import annotations

from aiohttp import web

from controller.metrics.definitions import render_latest


async def metrics_response(request: web.Request) -> web.Response:
    """Every registered metric in the text exposition format."""
    body, content_type = render_latest()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def metrics_app() -> web.Application:
    """A server with `/metrics` and nothing else."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_response)
    return app
