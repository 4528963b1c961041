"""Case 6, memory: the resident memory of the operator and of the API as mappings and Dispatches grow.

Both processes run as in production, each on its own (`ai-implement operator`, `ai-implement api`),
against a Linear sandbox and a GitHub sandbox; the operator leads. At each size the Dispatches are
closed ones (a busy installation's history, which both processes cache), and the mappings are
paused, so nothing new starts. Memory is read from /proc once both are ready and the operator has
polled. Target: the operator under 200 MB at 1,000 mappings and 10,000 Dispatches.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.suite.figures import Figure
from bench.suite.fleet import poller_dispatch
from bench.suite.lab import AI_LABEL, LINEAR_KEY, Lab, linear_mapping
from bench.suite.poll_cost import apply_mappings
from bench.suite.processes import start_controller, until_api_ready, until_leading
from controller.clock import kube_timestamp, utc_now
from controller.devcluster.controlplane import free_port
from controller.kube import DISPATCHES, KubeClient
from controller.sandbox import LinearSandbox
from controller.sandbox.github import GitHubSandbox

CASE = "6 memory"
SIZES = ((100, 100), (1_000, 1_000), (1_000, 10_000))
"""(mappings, Dispatches) at each step."""
APP_ID = 4242
ACCESS_CODE = "bench-memory-access-code"
TARGET_MB = 200


def closed_dispatch(namespace: str, n: int, mappings: int) -> dict[str, Any]:
    identifier = f"T{n % mappings}-{n}"
    title = f"Ticket {n}: make the thing do the other thing"
    url = f"https://linear.app/acme/issue/{identifier}"
    return poller_dispatch(namespace, identifier, f"issue-{n}", title, url, open_=False)


async def add_dispatches(kube: KubeClient, namespace: str, start: int, stop: int, mappings: int) -> None:
    """Closed Dispatches `start`..`stop`: created, then closed through their status."""
    closed = {"status": {"phase": "Succeeded", "closedAt": kube_timestamp(utc_now())}}

    async def one(n: int) -> None:
        body = closed_dispatch(namespace, n, mappings)
        await kube.create(DISPATCHES, namespace, body)
        await kube.merge_patch(DISPATCHES, namespace, body["metadata"]["name"], closed, subresource="status")

    for first in range(start, stop, 32):
        await asyncio.gather(*(one(n) for n in range(first, min(first + 32, stop))))


async def measure(
    lab: Lab, namespace: str, mappings: int, linear: LinearSandbox, github: GitHubSandbox
) -> tuple[float, float]:
    api_port, metrics_port, operator_port = free_port(), free_port(), free_port()
    environment = {
        "KUBECONFIG": str(lab.kubeconfig),
        "AI_IMPLEMENT_NAMESPACE": namespace,
        "DEDUP_DB_PATH": str(lab.work / f"{namespace}.sqlite"),
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_APP_PRIVATE_KEY": lab.app_key_pem,
        "GITHUB_API_URL": str(github.url),
        "LINEAR_API_KEY": LINEAR_KEY,
        "LINEAR_API_URL": f"{linear.url}/graphql",
        "ADMIN_ACCESS_CODE": ACCESS_CODE,
        "PORT": str(api_port),
        "METRICS_PORT": str(metrics_port),
        "OPERATOR_PORT": str(operator_port),
        "POLL_INTERVAL_MS": "5000",
        "LOG_LEVEL": "WARNING",
    }
    operator = await start_controller(lab, "operator", environment, f"{namespace}-operator-{mappings}")
    api = await start_controller(lab, "api", environment, f"{namespace}-api-{mappings}")
    try:
        await until_leading(operator, operator_port, within=300)
        await until_api_ready(api, api_port, within=300)
        await asyncio.sleep(5)  # a poll or two more, and the caches settled
        return operator.resident_mb(), api.resident_mb()
    finally:
        await operator.stop()
        await api.stop()


async def run(lab: Lab) -> list[Figure]:
    namespace = lab.new_namespace("memory")
    linear = LinearSandbox(request_limit=10_000_000, complexity_limit=10**12)
    linear.add_user("Bench", "bench@example.com", api_key=LINEAR_KEY)
    linear.add_label(AI_LABEL)
    github = GitHubSandbox()
    figures: list[Figure] = []
    applied_mappings = applied_dispatches = 0
    async with linear.running(), github.running(), lab.kube() as kube:
        github.add_app(APP_ID, lab.app_key_pem)
        for mappings, dispatches in SIZES:
            for n in range(applied_mappings, mappings):
                linear.add_team(f"T{n}", f"Team {n}")
            await apply_mappings(
                kube, [linear_mapping(namespace, n, paused=True) for n in range(applied_mappings, mappings)]
            )
            await add_dispatches(kube, namespace, applied_dispatches, dispatches, mappings)
            applied_mappings, applied_dispatches = mappings, dispatches
            samples = [await measure(lab, namespace, mappings, linear, github) for _ in range(lab.repeats)]
            size = f"{mappings:,} mappings, {dispatches:,} Dispatches"
            top = (mappings, dispatches) == SIZES[-1]
            figures.append(
                Figure.of(
                    CASE,
                    f"operator resident memory: {size}",
                    "MB",
                    [operator for operator, _ in samples],
                    target=f"< {TARGET_MB} MB" if top else "",
                    met=max(operator for operator, _ in samples) < TARGET_MB if top else None,
                )
            )
            figures.append(Figure.of(CASE, f"API resident memory: {size}", "MB", [api for _, api in samples]))
            print(f"  {size}: operator / API MB {[(round(o), round(a)) for o, a in samples]}", flush=True)
    return figures
