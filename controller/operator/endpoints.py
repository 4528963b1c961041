"""The operator process's own HTTP endpoints: `/metrics` for Prometheus and `/healthz` for the kubelet.

The operator's metrics (polls, dispatches, runs, the reaper, live sessions, who leads) live in its
own process, so the API container's `/metrics` cannot show them: this small server does, on
OPERATOR_PORT. `/healthz` answers 200 while the election loop runs, whether or not this replica
leads, and 503 once it has stopped, so that the kubelet restarts a replica that can never lead again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final

from aiohttp import web

from controller.metrics.exposition import metrics_response

HOST: Final = "0.0.0.0"  # noqa: S104 - probed by the kubelet and scraped by Prometheus from outside the pod


def operator_app(*, electing: Callable[[], bool], leading: Callable[[], bool]) -> web.Application:
    """`electing`: the election loop still runs; `leading`: this replica holds the Lease now."""

    async def healthz(request: web.Request) -> web.Response:
        alive = electing()
        body = {"status": "ok" if alive else "election stopped", "leader": leading()}
        return web.json_response(body, status=200 if alive else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_response)
    return app


@asynccontextmanager
async def serving(app: web.Application, port: int, host: str = HOST) -> AsyncIterator[None]:
    """Serve `app` until the block ends."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield
    finally:
        await runner.cleanup()
