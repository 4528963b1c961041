"""Case 6, memory: the resident memory of the operator and of the API as mappings and Dispatches grow.

Both processes run as in production, each on its own (`ai-implement operator`, `ai-implement api`),
against a Linear sandbox and a GitHub sandbox; the operator leads. At each size the Dispatches are
closed ones (a busy installation's history, which both processes cache), and the mappings are
paused, so nothing new starts. Memory is read from /proc once both are ready and the operator has
polled. Target: the operator under 200 MB at 1,000 mappings and 10,000 Dispatches.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.suite.figures import Figure
from bench.suite.lab import AI_LABEL, LINEAR_KEY, Lab, linear_mapping
from bench.suite.poll_cost import apply_mappings
from controller import constants
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
    team = n % mappings
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.DISPATCH_KIND,
        "metadata": {"name": f"t{team}-{n}-implementation-1", "namespace": namespace},
        "spec": {
            "mapping": f"T{team}",
            "issue": {
                "provider": "linear",
                "id": f"issue-{n}",
                "identifier": f"T{team}-{n}",
                "title": f"Ticket {n}: make the thing do the other thing",
                "url": f"https://linear.app/acme/issue/T{team}-{n}",
            },
            "kind": "implementation",
            "iteration": 1,
            "runnerMode": "github-actions",
        },
    }


async def add_dispatches(kube: KubeClient, namespace: str, start: int, stop: int, mappings: int) -> None:
    """Closed Dispatches `start`..`stop`: created, then closed through their status."""
    closed = {"status": {"phase": "Succeeded", "closedAt": kube_timestamp(utc_now())}}

    async def one(n: int) -> None:
        body = closed_dispatch(namespace, n, mappings)
        await kube.create(DISPATCHES, namespace, body)
        await kube.merge_patch(DISPATCHES, namespace, body["metadata"]["name"], closed, subresource="status")

    for first in range(start, stop, 32):
        await asyncio.gather(*(one(n) for n in range(first, min(first + 32, stop))))


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def ready(api_port: int, operator_port: int) -> bool:
    """The API lists every mapping and the operator leads and has polled."""
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            api = f"http://127.0.0.1:{api_port}"
            if (await http.get(f"{api}/readyz")).status_code != 200:
                return False
            metrics = (await http.get(f"http://127.0.0.1:{operator_port}/metrics")).text
        except httpx.TransportError:
            return False
    leads = "ai_implement_leader 1.0" in metrics
    polled = 'ai_implement_polls_total{outcome="ok",provider="linear"}' in metrics
    return leads and polled


async def measure(
    lab: Lab, namespace: str, mappings: int, linear: LinearSandbox, github: GitHubSandbox
) -> tuple[float, float]:
    api_port, metrics_port, operator_port = free_port(), free_port(), free_port()
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(lab.work),
        "PYTHONPATH": str(Path(__file__).parents[2]),
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
    processes = []
    for command in ("operator", "api"):
        log = (lab.work / f"{namespace}-{command}-{mappings}.log").open("wb")
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "controller.cli",
                command,
                "--env-file",
                str(lab.work / "none.env"),
                env=environment,
                cwd=lab.work,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        )
    operator, api = processes
    try:
        deadline = time.monotonic() + 300
        while not await ready(api_port, operator_port):
            if time.monotonic() > deadline or any(p.returncode is not None for p in processes):
                raise RuntimeError(f"the processes did not get ready; see the logs in {lab.work}")
            await asyncio.sleep(1)
        await asyncio.sleep(5)  # a poll or two more, and the caches settled
        return resident_mb(operator.pid), resident_mb(api.pid)
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await process.wait()


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
