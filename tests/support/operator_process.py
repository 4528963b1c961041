"""Real `ai-implement operator` processes for tests: started with a given environment, read through their
JSON log lines, their /healthz and /metrics, and stopped (or killed)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

import httpx

from controller.devcluster.controlplane import free_port
from tests.support.cluster import Cluster

KOPF_STARTED = "starting kopf's handlers for this term"


class OperatorProcess:
    """A real operator process whose JSON log lines the test reads."""

    def __init__(self, log: Path, port: int) -> None:
        self.log = log
        self.port = port
        self.process: asyncio.subprocess.Process | None = None

    @classmethod
    async def launch(cls, name: str, directory: Path, environment: dict[str, str]) -> OperatorProcess:
        """`ai-implement operator` with only `environment` (no .env file), logging to `<name>.log`."""
        operator = cls(directory / f"{name}.log", free_port())
        with operator.log.open("wb") as output:
            operator.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "controller.cli",
                "operator",
                "--env-file",
                str(directory / "none.env"),
                env={**environment, "OPERATOR_PORT": str(operator.port)},
                cwd=directory,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
        return operator

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=5) as client:
            return await client.get(f"http://127.0.0.1:{self.port}{path}")

    async def leader_metric(self) -> float | None:
        for line in (await self.get("/metrics")).text.splitlines():
            if line.startswith("ai_implement_leader "):
                return float(line.split()[1])
        return None

    def messages(self) -> list[str]:
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                found.append(str(json.loads(line).get("message", "")))
        return found

    def polls(self) -> int:
        return sum(1 for message in self.messages() if message.startswith("polled linear"))

    def kopf_terms(self) -> int:
        return self.messages().count(KOPF_STARTED)

    async def stop(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def process_environment(home: Path, cluster: Cluster, namespace: str) -> dict[str, str]:
    """What every operator process under test needs besides its own settings."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "KUBECONFIG": str(cluster.kubeconfig),
        "AI_IMPLEMENT_NAMESPACE": namespace,
    }
