"""How fast a burst of labelled tickets becomes running runs, on a real API server.

Run: `.venv/bin/python bench/bench_burst.py [N ...]` (default 20 100). Starts its own
kube-apiserver and etcd (the binaries `make install` builds), a Linear sandbox with N labelled
tickets in one team, a GitHub sandbox (the App) and a Docker Engine sandbox (local runs); then runs
one leader's term (kopf's handlers and the pollers) and times, from the start of the term, the first
Dispatch created, the last one created and the last one Running. Each size runs REPEATS times in a
fresh namespace. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client, config

from controller import constants
from controller.config import load_settings
from controller.devcluster import ControlPlane, install_crds, locate_binaries
from controller.kube import DISPATCHES, PROJECT_MAPPINGS, KubeClient, connection_from_kubeconfig
from controller.operator.main import term_of
from controller.operator.runtime import open_operator_runtime
from controller.sandbox import LinearSandbox
from controller.sandbox.docker import DockerSandbox
from controller.sandbox.github import GitHubSandbox

LINEAR_KEY = "lin_api_benchKey0123456789abcdefABCDEF"
APP_ID = 4242
IMAGE = "ai-implement-runner:bench"
REPEATS = 3
TIMEOUT_SECONDS = float(os.environ.get("BENCH_TIMEOUT", "300"))


def mapping(namespace: str, cap: int) -> dict[str, object]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": "burst", "namespace": namespace},
        "spec": {
            "teamKey": "BURST",
            "ticketing": {"provider": "linear"},
            "source": {"owner": "acme", "repo": "burst", "defaultBranch": "main"},
            "runner": {"executionMode": "local"},
            "capacity": {"maxInProgressAiIssues": cap, "maxJobMinutes": 60},
            "planning": {"enabled": False},
        },
    }


async def measure(count: int, namespace: str, kubeconfig: Path, work: Path) -> tuple[float, float, float]:
    """Seconds from the term's start to: the first Dispatch, the last Dispatch, the last one Running."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    linear = LinearSandbox(request_limit=1_000_000)
    linear.add_user("Bench", "bench@example.com", api_key=LINEAR_KEY)
    linear.add_label("AI-Implement")
    linear.add_team("BURST", "Burst")
    for n in range(count):
        linear.add_issue("BURST", f"Ticket {n}", labels=["AI-Implement"])
    github = GitHubSandbox()
    github.add_app(APP_ID, key.public_key())
    github.add_repo("acme", "burst")
    github.install_app(APP_ID, "acme", repos=["burst"])
    docker = DockerSandbox()
    docker.add_image(IMAGE)
    async with (
        linear.running(),
        github.running(),
        docker.running(),
        KubeClient(connection_from_kubeconfig(kubeconfig)) as kube,
    ):
        await kube.apply(PROJECT_MAPPINGS, namespace, mapping(namespace, min(count, 100)), "bench", force=True)
        settings = load_settings(
            {
                "GITHUB_APP_ID": str(APP_ID),
                "GITHUB_APP_PRIVATE_KEY": pem,
                "GITHUB_API_URL": str(github.url),
                "LINEAR_API_KEY": LINEAR_KEY,
                "LINEAR_API_URL": f"{linear.url}/graphql",
                "AI_IMPLEMENT_NAMESPACE": namespace,
                "DEDUP_DB_PATH": str(work / f"{namespace}.sqlite"),
                "DOCKER_HOST": str(docker.url),
                "LOCAL_RUNNER_IMAGE": IMAGE,
                "LOCAL_RUNNER_ORCHESTRATOR_URL": "http://127.0.0.1:9",
                "RUNNER_CALLBACK_BASE_URL": "http://127.0.0.1:9",
                "RUNNER_TOKEN_SECRET": "bench-runner-token-secret-0123456789",
                "ANTHROPIC_API_KEY": "sk-ant-api03-benchKey",
                "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "ERROR"),
            },
            env_file=None,
        )
        async with open_operator_runtime(settings, connection=connection_from_kubeconfig(kubeconfig)) as runtime:
            await runtime.mappings.wait_synced(60)
            started = time.perf_counter()
            term = asyncio.create_task(term_of(runtime, asyncio.Event(), [])())
            try:
                return await _watch_burst(kube, namespace, count, started)
            finally:
                term.cancel()
                await asyncio.gather(term, return_exceptions=True)


async def _watch_burst(kube: KubeClient, namespace: str, count: int, started: float) -> tuple[float, float, float]:
    first = last = None
    while time.perf_counter() - started < TIMEOUT_SECONDS:
        items, _ = await kube.list(DISPATCHES, namespace)
        now = time.perf_counter() - started
        if items and first is None:
            first = now
        if len(items) >= count and last is None:
            last = now
        running = [item for item in items if (item.get("status") or {}).get("phase") == "Running"]
        if len(running) >= count and first is not None and last is not None:
            return first, last, now
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{count} Dispatches were not all Running within {TIMEOUT_SECONDS:.0f} s")


def main(counts: list[int]) -> None:
    with ControlPlane(locate_binaries()) as plane, tempfile.TemporaryDirectory() as work:
        api_client = config.new_client_from_config(config_file=str(plane.kubeconfig_path))
        install_crds(api_client)
        os.environ["KUBECONFIG"] = str(plane.kubeconfig_path)  # kopf logs in from it
        print(f"{'tickets':>8} {'first Dispatch s':>17} {'all created s':>14} {'all Running s':>14} {'Running/s':>10}")
        for count in counts:
            rates = []
            for round_ in range(REPEATS):
                namespace = f"burst-{count}-{round_}"
                client.CoreV1Api(api_client).create_namespace({"metadata": {"name": namespace}})
                first, created, running = asyncio.run(measure(count, namespace, plane.kubeconfig_path, Path(work)))
                rates.append(count / (running - first))
                print(f"{count:>8} {first:>17.2f} {created:>14.2f} {running:>14.2f} {rates[-1]:>10.1f}", flush=True)
            spread = f"{min(rates):.1f} / {statistics.median(rates):.1f} / {max(rates):.1f}"
            print(f"{count:>8} tickets: Dispatches Running per second after the first, min / median / max: {spread}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [20, 100])
