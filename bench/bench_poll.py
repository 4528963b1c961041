"""What one Linear poll costs as the number of ProjectMappings grows, on a real API server.

Run: `.venv/bin/python bench/bench_poll.py [N ...]` (default 10 100 1000). Starts its own
kube-apiserver and etcd (the binaries `make install` builds), a Linear sandbox with one labelled
ticket per ten teams, and the operator's runtime without leadership; applies N mappings, then times
the first poll (which writes every mapping's status) and five polls that learn nothing new. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import config

from controller import constants
from controller.config import load_settings
from controller.devcluster import ControlPlane, install_crds, locate_binaries
from controller.kube import PROJECT_MAPPINGS, KubeClient, connection_from_kubeconfig
from controller.operator.runtime import open_operator_runtime
from controller.sandbox import LinearSandbox

NAMESPACE = "default"
LINEAR_KEY = "lin_api_benchKey0123456789abcdefABCDEF"
QUIET_POLLS = 5


def mapping(n: int) -> dict[str, object]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": f"t{n}", "namespace": NAMESPACE},
        "spec": {
            "teamKey": f"T{n}",
            "ticketing": {"provider": "linear"},
            "source": {"owner": "acme", "repo": f"repo-{n}", "defaultBranch": "main"},
            "planning": {"enabled": False},
        },
    }


async def measure(count: int, kubeconfig: Path, work: Path) -> tuple[float, list[float]]:
    linear = LinearSandbox(request_limit=1_000_000)
    linear.add_user("Bench", "bench@example.com", api_key=LINEAR_KEY)
    linear.add_label("AI-Implement")
    for n in range(count):
        linear.add_team(f"T{n}", f"Team {n}")
        if n % 10 == 0:
            linear.add_issue(f"T{n}", f"Ticket of team {n}", labels=["AI-Implement"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    async with linear.running(), KubeClient(connection_from_kubeconfig(kubeconfig)) as kube:
        for n in range(count):
            await kube.apply(PROJECT_MAPPINGS, NAMESPACE, mapping(n), "bench", force=True)
        settings = load_settings(
            {
                "GITHUB_APP_ID": "1",
                "GITHUB_APP_PRIVATE_KEY": pem,
                "LINEAR_API_KEY": LINEAR_KEY,
                "LINEAR_API_URL": f"{linear.url}/graphql",
                "AI_IMPLEMENT_NAMESPACE": NAMESPACE,
                "DEDUP_DB_PATH": str(work / f"bench-{count}.sqlite"),
                "RUNNER_CALLBACK_BASE_URL": "https://ai-implement.example.com",
                "RUNNER_TOKEN_SECRET": "bench-runner-token-secret-0123456789",
                "LOG_LEVEL": "ERROR",
            },
            env_file=None,
        )
        async with open_operator_runtime(settings, connection=connection_from_kubeconfig(kubeconfig)) as runtime:
            await runtime.mappings.wait_synced(60)
            for _ in range(600):  # the watch delivers the mappings applied above within a minute
                if len(runtime.mappings.items()) >= count:
                    break
                await asyncio.sleep(0.1)
            (poller,) = runtime.pollers()
            started = time.perf_counter()
            await poller.poll_once()
            first = time.perf_counter() - started
            await asyncio.sleep(2)  # let the watch deliver the statuses the first poll wrote
            quiet = []
            for _ in range(QUIET_POLLS):
                started = time.perf_counter()
                await poller.poll_once()
                quiet.append(time.perf_counter() - started)
        for n in range(count):
            await kube.delete(PROJECT_MAPPINGS, NAMESPACE, f"t{n}")
    return first, quiet


def main(counts: list[int]) -> None:
    with ControlPlane(locate_binaries()) as plane, tempfile.TemporaryDirectory() as work:
        install_crds(config.new_client_from_config(config_file=str(plane.kubeconfig_path)))
        print(f"{'mappings':>9} {'first poll s':>13} {'quiet poll s (min / median / max)':>36}")
        for count in counts:
            first, quiet = asyncio.run(measure(count, plane.kubeconfig_path, Path(work)))
            spread = f"{min(quiet):.3f} / {statistics.median(quiet):.3f} / {max(quiet):.3f}"
            print(f"{count:>9} {first:>13.3f} {spread:>36}", flush=True)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10, 100, 1000])
