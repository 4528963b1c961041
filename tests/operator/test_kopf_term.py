"""kopf's handlers run inside the leader's term and nowhere else: started with it, stopped when it ends."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from controller import constants
from controller.kube import PROJECT_MAPPINGS, KubeClient
from controller.operator.main import term_of
from tests.operator.conftest import apply_mapping, cached
from tests.operator.run_fixtures import RunLoop
from tests.support.cluster import Cluster
from tests.support.waiting import eventually

KOPF_DIFFBASE = f"{constants.GROUP}/last-handled-configuration"
"""The annotation kopf writes on each object its handlers processed (our diffbase storage)."""


async def handled_spec(kube: KubeClient, namespace: str, name: str) -> str | None:
    mapping = await kube.get(PROJECT_MAPPINGS, namespace, name)
    return (mapping["metadata"].get("annotations") or {}).get(KOPF_DIFFBASE)


async def test_kopf_handles_mappings_during_a_term_and_stops_with_it(
    loop: RunLoop, kube: KubeClient, namespace: str, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(Path(cluster.kubeconfig)))
    loop.add_repo("eng")
    await apply_mapping(kube, namespace, "ENG")
    runtime = await loop.operator()
    await cached(runtime, "eng")
    stopping, failure = asyncio.Event(), list[BaseException]()
    term = asyncio.create_task(term_of(runtime, stopping, failure)())

    async def handled() -> bool:
        return await handled_spec(kube, namespace, "eng") is not None

    await eventually(handled, within=30)
    term.cancel()  # what the elector does when the Lease is lost
    with contextlib.suppress(asyncio.CancelledError):
        await term
    assert (stopping.is_set(), failure) == (False, []), "losing the Lease is not a reason to stop the process"

    before = await handled_spec(kube, namespace, "eng")
    await apply_mapping(kube, namespace, "ENG", paused=True)
    await asyncio.sleep(2)
    assert await handled_spec(kube, namespace, "eng") == before, "no kopf handler ran after the term ended"


async def test_the_end_of_a_term_leaves_the_tasks_outside_kopf_running(
    loop: RunLoop, kube: KubeClient, namespace: str
) -> None:
    """kopf cancels every task created after it started once it stops, 5 s later: not ours (API, election)."""
    loop.add_repo("eng")
    await apply_mapping(kube, namespace, "ENG")
    runtime = await loop.operator()
    await cached(runtime, "eng")
    term = asyncio.create_task(term_of(runtime, asyncio.Event(), [])())
    await eventually(lambda: handled_spec(kube, namespace, "eng"), within=30)
    outside = asyncio.create_task(asyncio.sleep(60), name="an API request, say")

    term.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await term
    await asyncio.sleep(6)  # kopf gives the tasks it thinks are its own 5 s, then cancels them

    assert not outside.done(), "a task that is not kopf's outlives the term"
    outside.cancel()
