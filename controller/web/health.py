"""Liveness and readiness: what Kubernetes probes (Prometheus scrapes METRICS_PORT, controller.metrics.exposition)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from controller.metrics import STORE_UP
from controller.web.context import context_of
from controller.web.routing import Access, ApiRouter, respond

router = ApiRouter(tag="operations")


class Liveness(BaseModel):
    status: str = Field(description="Always `ok` while the process can answer.")


class DependencyCheck(BaseModel):
    ok: bool
    message: str = Field(description="What is wrong and what to look at, or what is fine.")


class Readiness(BaseModel):
    ready: bool = Field(description="True when every dependency below is ok.")
    checks: dict[str, DependencyCheck] = Field(description="kubernetes, store and mappingsCache.")


@router.route("GET", "/healthz", summary="Liveness: the process is up", responses={200: Liveness}, access=Access.PUBLIC)
async def liveness(request: web.Request) -> web.Response:
    return respond(Liveness(status="ok"))


@router.route(
    "GET",
    "/readyz",
    summary="Readiness: the Kubernetes API and the store are reachable and the caches are filled",
    responses={200: Readiness, 503: Readiness},
    access=Access.PUBLIC,
)
async def readiness(request: web.Request) -> web.Response:
    context = context_of(request)
    kube_ok = await context.kube.healthy()
    store_ok = await context.store.is_reachable()
    STORE_UP.set(1 if store_ok else 0)
    synced = context.mappings.synced
    checks = {
        "kubernetes": DependencyCheck(
            ok=kube_ok,
            message="the API server answers /readyz"
            if kube_ok
            else "the Kubernetes API server is unreachable or not ready: check KUBECONFIG or the pod's service account",
        ),
        "store": DependencyCheck(
            ok=store_ok,
            message="the database answers"
            if store_ok
            else "the database does not answer: check DATABASE_URL or DEDUP_DB_PATH",
        ),
        "mappingsCache": DependencyCheck(
            ok=synced,
            message="ProjectMappings are cached" if synced else "ProjectMappings are not listed yet",
        ),
    }
    ready = all(check.ok for check in checks.values())
    return respond(Readiness(ready=ready, checks=checks), status=200 if ready else 503)
