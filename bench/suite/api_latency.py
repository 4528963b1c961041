"""Case 5, API and panel latency: every list endpoint and every admin panel at scale, under load.

1,000 ProjectMappings on the API server, a store with 10,000 dispatch-log rows (and inbox
snapshots, pull requests, dedup entries, reaper actions and admin changes in proportion, as
bench/bench_panels.py fills it) and 5,000 live sessions; `ai-implement api` in its own process as in
production. Each path is asked by four clients at once, 10 requests each, per round. Targets: p99
under 50 ms for JSON, under 100 ms for a panel. Endpoints that call an external service by design
(the config-status probes, Jira's field lists) are left out.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from bench.bench_panels import ACCESS_CODE, NAV_LINK, apply_mappings, fill_store, measure, serve_api, signed_in
from bench.suite.figures import Figure, quantile
from bench.suite.lab import Lab
from controller.devcluster.controlplane import free_port
from controller.store import Store
from controller.store.records import ObservedSession
from controller.store.urls import database_url
from controller.web.app import all_endpoints
from controller.web.routing import Access

CASE = "5 API latency"
MAPPINGS = 1_000
LOG_ROWS = 10_000
LIVE_SESSIONS = 5_000
CLIENTS = 4
REQUESTS_PER_CLIENT = 10
CALLS_OUT = frozenset({"/api/admin/config-status", "/api/jira/fields", "/api/jira/field-options"})


def json_paths() -> list[str]:
    endpoints = [e for e in all_endpoints() if e.method == "GET" and e.access is Access.ADMIN]
    return [e.path for e in endpoints if "{" not in e.path and e.path not in CALLS_OUT]


async def add_live_sessions(url: str, count: int) -> None:
    """Fly machines beside the GitHub runs fill_store keeps: `count` live sessions in all."""
    now = datetime.now(UTC)
    sessions = [
        ObservedSession(
            backend="fly-machines",
            resource_id=f"{n:014x}",
            name=f"machine {n}",
            state="started",
            backend_state="started",
            created_at=now - timedelta(minutes=n % 90),
            dispatch_name=f"t{n % MAPPINGS}-{n}",
            issue_identifier=f"T{n % MAPPINGS}-{n}",
            team_key=f"T{n % MAPPINGS}",
            repo=f"acme/repo-{n % MAPPINGS}",
        )
        for n in range(count - LOG_ROWS // 20)
    ]
    async with Store.from_url(url) as store:
        await store.replace_live_sessions("fly-machines", sessions, now)


async def run(lab: Lab) -> list[Figure]:
    await apply_mappings(lab.kubeconfig, MAPPINGS)
    sqlite = lab.work / "latency.sqlite"
    url = database_url(None, str(sqlite))
    await fill_store(url, MAPPINGS, LOG_ROWS)
    await add_live_sessions(url, LIVE_SESSIONS)
    port, log = free_port(), lab.work / "latency-api.log"
    process = serve_api(lab.kubeconfig, sqlite, port, log)
    base = f"http://127.0.0.1:{port}"
    figures: list[Figure] = []
    try:
        cookie, overview = await signed_in(base, MAPPINGS, process, log)
        panels = list(dict.fromkeys(path for path, _ in NAV_LINK.findall(overview)))
        async with httpx.AsyncClient(base_url=base) as http:
            token = (await http.post("/api/auth", json={"code": ACCESS_CODE})).json()["token"]
        kinds = (
            ("JSON", json_paths(), 0.050, {"Authorization": f"Bearer {token}"}),
            ("panel", panels, 0.100, {"Cookie": cookie}),
        )
        for kind, paths, target, headers in kinds:
            for path in paths:
                p50s, p99s = [], []
                size = 0
                for _ in range(lab.repeats):
                    samples, size = await measure(base, headers, path, CLIENTS, REQUESTS_PER_CLIENT)
                    p50s.append(1000 * quantile(samples, 0.5))
                    p99s.append(1000 * quantile(samples, 0.99))
                label = f"{kind} {path} ({size / 1000:,.0f} kB)"
                figures.append(Figure.of(CASE, f"p50: {label}", "ms", p50s))
                figures.append(
                    Figure.of(
                        CASE,
                        f"p99: {label}",
                        "ms",
                        p99s,
                        target=f"< {target * 1000:.0f} ms",
                        met=max(p99s) < target * 1000,
                    )
                )
                print(f"  {label}: p50 {[round(x) for x in p50s]} p99 {[round(x) for x in p99s]} ms", flush=True)
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
    return figures
