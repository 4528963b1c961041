"""Two `ai-implement operator` processes on one API server: exactly one leads (polls and runs kopf), the other
takes over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.kube import KubeClient
from controller.sandbox import LinearSandbox
from tests.operator.conftest import LINEAR_KEY, apply_mapping
from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess, process_environment
from tests.support.waiting import eventually


@pytest.fixture
async def operators(
    cluster: Cluster, namespace: str, kube: KubeClient, linear: LinearSandbox, tmp_path: Path, rsa_key_pem: str
) -> AsyncIterator[list[OperatorProcess]]:
    await apply_mapping(kube, namespace, "ENG")
    env = {
        **process_environment(tmp_path, cluster, namespace),
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
        operator = await OperatorProcess.launch(name, tmp_path, env)
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
