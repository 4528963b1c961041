"""Leader election on a real Lease: one leader at a time, and a quick takeover."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from controller.kube import LEASES, KubeClient, connection_from_kubeconfig
from controller.operator.leadership import LeaderElector, LeaseTiming
from tests.support.cluster import Cluster
from tests.support.waiting import eventually

FAST = LeaseTiming(duration=2.0, renew_every=0.3, retry_every=0.2)


@pytest.fixture
async def kube(cluster: Cluster) -> AsyncIterator[KubeClient]:
    async with KubeClient(connection_from_kubeconfig(cluster.kubeconfig)) as client:
        yield client


class Candidate:
    """An elector and a record of when its work ran."""

    def __init__(self, kube: KubeClient, namespace: str, identity: str) -> None:
        self.elector = LeaderElector(kube, namespace, "ai-implement-operator", identity, timing=FAST)
        self.working = False
        self.task: asyncio.Task[None] | None = None

    async def _lead(self) -> None:
        self.working = True
        try:
            await asyncio.Event().wait()
        finally:
            self.working = False

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run(self._lead))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def test_exactly_one_candidate_leads_and_the_other_takes_over(kube: KubeClient, namespace: str) -> None:
    first, second = Candidate(kube, namespace, "replica-a"), Candidate(kube, namespace, "replica-b")
    first.start()
    await eventually(lambda: first.working)
    second.start()
    for _ in range(10):
        await asyncio.sleep(0.2)
        assert (first.working, second.working) == (True, False)
    await first.stop()
    await eventually(lambda: second.working, within=5)
    assert not first.working
    await second.stop()


async def test_a_leader_that_dies_without_releasing_is_replaced_after_the_lease_expires(
    kube: KubeClient, namespace: str
) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    dead_leader = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "ai-implement-operator", "namespace": namespace},
        "spec": {"holderIdentity": "crashed-replica", "leaseDurationSeconds": 2, "renewTime": now},
    }
    await kube.create(LEASES, namespace, dead_leader)
    successor = Candidate(kube, namespace, "replica-b")
    successor.start()
    await asyncio.sleep(FAST.duration / 2)
    assert not successor.working
    await eventually(lambda: successor.working, within=10)
    await successor.stop()
