"""Two `ai-implement operator` processes on one API server: exactly one leads (polls and runs kopf), the other
takes over."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from controller.devcluster.controlplane import free_port
from controller.kube import KubeClient
from controller.sandbox import LinearSandbox
from tests.operator.conftest import LINEAR_KEY, apply_mapping
from tests.support.cluster import Cluster
from tests.support.waiting import eventually

KOPF_STARTED = "starting kopf's handlers for this term"


class OperatorProcess:
    """A real operator process whose JSON log lines the test reads."""

    def __init__(self, log: Path, port: int) -> None:
        self.log = log
        self.port = port
        self.process: asyncio.subprocess.Process | None = None

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


@pytest.fixture
async def operators(
    cluster: Cluster, namespace: str, kube: KubeClient, linear: LinearSandbox, tmp_path: Path, rsa_key_pem: str
) -> AsyncIterator[list[OperatorProcess]]:
    await apply_mapping(kube, namespace, "ENG")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "KUBECONFIG": str(cluster.kubeconfig),
        "AI_IMPLEMENT_NAMESPACE": namespace,
        "DEDUP_DB_PATH": str(tmp_path / "dedup.sqlite"),
        "GITHUB_APP_ID": "12345",
        "GITHUB_APP_PRIVATE_KEY": rsa_key_pem,
        "LINEAR_API_KEY": LINEAR_KEY,
        "LINEAR_API_URL": f"{linear.url}/graphql",
        "POLL_INTERVAL_MS": "500",
        "LOG_LEVEL": "INFO",
    }
    started: list[OperatorProcess] = []

    async def start(name: str) -> OperatorProcess:
        operator = OperatorProcess(tmp_path / f"{name}.log", free_port())
        with operator.log.open("wb") as output:
            operator.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "controller.cli",
                "operator",
                "--env-file",
                str(tmp_path / "none.env"),
                env={**env, "OPERATOR_PORT": str(operator.port)},
                cwd=tmp_path,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
        started.append(operator)
        return operator

    first = await start("first")
    try:
        await eventually(lambda: first.polls() > 0, within=60)
    except TimeoutError:
        pytest.fail(f"the first operator never polled:\n{first.log.read_text()[-4000:]}")
    second = await start("second")
    try:
        yield [first, second]
    finally:
        for operator in started:
            await operator.stop()


async def test_exactly_one_replica_polls_and_the_other_takes_over(
    operators: list[OperatorProcess], kube: KubeClient, namespace: str, linear: LinearSandbox
) -> None:
    first, second = operators
    linear.add_issue("ENG", "Polled by one", labels=["AI-Implement"])
    polled_by_first = first.polls()
    await asyncio.sleep(5)
    assert first.polls() > polled_by_first
    assert second.polls() == 0, second.log.read_text()[-3000:]

    assert (first.kopf_terms(), second.kopf_terms()) == (1, 0), "kopf runs on the leader only"
    health = [(await operator.get("/healthz")).json() for operator in (first, second)]
    assert health == [{"status": "ok", "leader": True}, {"status": "ok", "leader": False}]
    assert (await first.leader_metric(), await second.leader_metric()) == (1.0, 0.0)
    assert "ai_implement_polls_total" in (await first.get("/metrics")).text

    await first.stop()
    assert first.process is not None
    assert first.process.returncode == 0, first.log.read_text()[-3000:]
    assert "kopf's handlers stopped: the term ended" in first.messages()
    await eventually(lambda: second.polls() > 0, within=30)
    assert second.kopf_terms() == 1
    assert await second.leader_metric() == 1.0
