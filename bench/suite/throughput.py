"""Case 4, reconcile throughput: 1,000 Dispatches from creation to Running, beside a bare kopf operator.

`ai-implement operator` runs in its own process, as in production, against the GitHub sandbox (the
App, one repository and workflow per team) and the Linear sandbox (the tickets it moves to In
Progress). The bench creates 1,000 Dispatches, 32 at a time, as the poller or an admin would, and
watches them until every one is Running. In the same run, on the same API server, a bare kopf
operator (`bare_kopf.py`: a create handler writing one status field) handles 1,000 objects of a
CRD of its own. The API server's writes are counted from its own `apiserver_request_total`.
Target: our writes per second at least 0.8 of bare kopf's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from bench.suite.figures import Figure
from bench.suite.fleet import Fleet, new_fleet
from bench.suite.lab import Lab
from bench.suite.processes import ControllerProcess, process_cpu_seconds, start_controller, until_leading
from controller.devcluster.controlplane import free_port
from controller.kube import DISPATCHES, KubeClient
from controller.kube.kinds import ApiResource

CASE = "4 reconcile throughput"
COUNT = 1_000
TEAMS = 50
CREATORS = 32
"""Creations in flight at once: near the API server's own create rate on two cores."""
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY"})
TARGET_RATIO = 0.8
TIMEOUT = 600.0

BARE_GROUP = "bench.ai-implement.dev"
BENCH_ITEMS = ApiResource(BARE_GROUP, "v1", "BenchItem", "benchitems")
BARE_OPERATOR = Path(__file__).with_name("bare_kopf.py")
SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)
LABEL = re.compile(r'(\w+)="([^"]*)"')


# The API server's own count of writes ---------------------------------------------------------


def api_server_writes(api_client: client.ApiClient) -> Counter[str]:
    """Writes the API server has served since it started, by resource (`apiserver_request_total`)."""
    method, url, headers, _, _ = api_client.param_serialize("GET", "/metrics", auth_settings=["BearerToken"])
    answer = api_client.call_api(method, url, header_params=headers)
    answer.read()
    text = answer.data.decode()
    writes: Counter[str] = Counter()
    for sample in SAMPLE.finditer(text):
        labels = dict(LABEL.findall(sample["labels"]))
        if labels.get("verb") in WRITE_VERBS:
            resource = labels.get("resource", "")
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            writes[resource] += int(float(sample["value"]))
    return writes


async def writes_now(lab: Lab) -> Counter[str]:
    return await asyncio.to_thread(api_server_writes, lab.api_client)


# Watching objects reach a state ----------------------------------------------------------------


@dataclass
class Arrivals:
    """When each object of a namespace first satisfied `reached` (monotonic seconds), from a watch."""

    reached: Callable[[Mapping[str, Any]], bool]
    at: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, kube: KubeClient, resource: ApiResource, namespace: str) -> None:
        listed = await kube.list(resource, namespace)
        self._see(listed.items)
        version = listed.resource_version
        while True:
            async with contextlib.aclosing(
                kube.watch(resource, namespace, resource_version=version, timeout_seconds=60)
            ) as events:
                async for event in events:
                    version = event.resource_version or version
                    if event.type in ("ADDED", "MODIFIED"):
                        self._see([event.object])

    def _see(self, objects: Sequence[Mapping[str, Any]]) -> None:
        now = time.monotonic()
        for body in objects:
            name = body["metadata"]["name"]
            if name not in self.at and self.reached(body):
                self.at[name] = now
                self.changed.set()

    async def until(self, count: int, within: float, problem: Callable[[], str | None] = lambda: None) -> float:
        """The moment the `count`-th object arrived; raises when `problem()` names one or time runs out."""
        deadline = time.monotonic() + within
        while len(self.at) < count:
            if (trouble := problem()) is not None:
                raise RuntimeError(trouble)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.at)} of {count} arrived within {within:.0f} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1.0)
        return max(self.at.values())


def is_running(body: Mapping[str, Any]) -> bool:
    return (body.get("status") or {}).get("phase") == "Running"


async def create_all(kube: KubeClient, resource: ApiResource, namespace: str, bodies: list[dict[str, Any]]) -> float:
    """Create every body, CREATORS at a time; the moment the first creation was sent."""
    started = time.monotonic()
    queue = iter(bodies)

    async def creator() -> None:
        for body in queue:
            await kube.create(resource, namespace, body)

    await asyncio.gather(*(creator() for _ in range(CREATORS)))
    return started


# Our operator ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFigures:
    seconds: float
    writes: Counter[str]
    cpu_seconds: float
    """The operator's CPU time over the run (all its processes, for case 7)."""
    sandbox_cpu_seconds: float = 0.0
    """The bench process's: the sandboxes answering, and the watch that times the run."""

    @property
    def per_second(self) -> float:
        return COUNT / self.seconds

    @property
    def writes_per_second(self) -> float:
        return sum(self.writes.values()) / self.seconds


async def operator_run(lab: Lab, kube: KubeClient, fleet: Fleet, kills: int = 0) -> tuple[RunFigures, int]:
    """COUNT Dispatches to Running under one operator, killed (`kill -9`) and replaced `kills` times.

    The kills fall evenly through the run (at a quarter, half and three quarters for three); each
    time a fresh operator process starts at once and takes over when the dead one's Lease expires.
    The second figure is how many operators ran.
    """
    port = free_port()
    operators: list[ControllerProcess] = []

    async def start_operator() -> ControllerProcess:
        name = f"{fleet.namespace}-operator-{len(operators)}"
        environment = fleet.environment(lab, OPERATOR_PORT=str(port))
        operator = await start_controller(lab, "operator", environment, name)
        operators.append(operator)
        return operator

    def problem() -> str | None:
        current = operators[-1]
        return f"the operator exited ({current.process.returncode}); see {current.log}" if current.exited else None

    await start_operator()
    running = Arrivals(is_running)
    follower = asyncio.create_task(running.follow(kube, DISPATCHES, fleet.namespace))
    cpu = 0.0
    try:
        await until_leading(operators[-1], port)
        before, cpu_before, bench_before = await writes_now(lab), operators[-1].cpu_seconds(), time.process_time()
        started = await create_all(kube, DISPATCHES, fleet.namespace, [fleet.dispatch(n) for n in range(COUNT)])
        for kill in range(1, kills + 1):
            await running.until(COUNT * kill // (kills + 1), TIMEOUT, problem)
            cpu += operators[-1].cpu_seconds() - cpu_before
            await operators[-1].kill()
            await start_operator()
            cpu_before = 0.0
        finished = await running.until(COUNT, TIMEOUT, problem)
        writes = await writes_now(lab) - before
        cpu += operators[-1].cpu_seconds() - cpu_before
        bench_cpu = time.process_time() - bench_before
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        for operator in operators:
            await operator.stop()
    return RunFigures(finished - started, writes, cpu, bench_cpu), len(operators)


# The bare kopf operator beside it --------------------------------------------------------------


def install_bare_crd(api_client: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(api_client)
    name = f"{BENCH_ITEMS.plural}.{BARE_GROUP}"
    body = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": BARE_GROUP,
            "scope": "Namespaced",
            "names": {"plural": BENCH_ITEMS.plural, "singular": "benchitem", "kind": BENCH_ITEMS.kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    with contextlib.suppress(client.ApiException):
        extensions.create_custom_resource_definition(body)
    for _ in range(100):
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the CRD {name} did not become Established")


def seen_by_bare_kopf(body: Mapping[str, Any]) -> bool:
    return bool((body.get("status") or {}).get("seen"))


async def bare_kopf_run(lab: Lab, kube: KubeClient) -> RunFigures:
    namespace = lab.new_namespace("bare-kopf")
    log = (lab.work / f"{namespace}.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kopf",
        "run",
        "--standalone",
        "--namespace",
        namespace,
        str(BARE_OPERATOR),
        env={"KUBECONFIG": str(lab.kubeconfig), "PATH": os.environ["PATH"], "HOME": str(lab.work)},
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    seen = Arrivals(seen_by_bare_kopf)
    follower = asyncio.create_task(seen.follow(kube, BENCH_ITEMS, namespace))

    def problem() -> str | None:
        return f"bare kopf exited; see {log.name}" if process.returncode is not None else None

    try:
        probe = {"apiVersion": BENCH_ITEMS.api_version, "kind": BENCH_ITEMS.kind, "metadata": {"name": "probe"}}
        await kube.create(BENCH_ITEMS, namespace, probe)
        await seen.until(1, 60, problem)  # kopf is up and handling
        before, cpu_before, bench_before = await writes_now(lab), process_cpu_seconds(process.pid), time.process_time()
        bodies = [{**probe, "metadata": {"name": f"item-{n}"}} for n in range(COUNT)]
        started = await create_all(kube, BENCH_ITEMS, namespace, bodies)
        finished = await seen.until(COUNT + 1, TIMEOUT, problem)
        writes = await writes_now(lab) - before
        cpu, bench_cpu = process_cpu_seconds(process.pid) - cpu_before, time.process_time() - bench_before
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        if process.returncode is None:
            process.terminate()
            await process.wait()
        log.close()
    return RunFigures(finished - started, writes, cpu, bench_cpu)


# The case --------------------------------------------------------------------------------------


def shown_writes(writes: Counter[str]) -> str:
    return ", ".join(f"{resource} {count / COUNT:.2f}" for resource, count in writes.most_common())


async def run(lab: Lab) -> list[Figure]:
    await asyncio.to_thread(install_bare_crd, lab.api_client)
    ours: list[RunFigures] = []
    bare: list[RunFigures] = []
    async with lab.kube() as kube:
        for _ in range(lab.repeats):
            bare.append(await bare_kopf_run(lab, kube))
            print(
                f"  bare kopf: {bare[-1].per_second:.0f} objects/s, {bare[-1].writes_per_second:.0f} writes/s, "
                f"{1000 * bare[-1].cpu_seconds / COUNT:.1f} ms CPU per object; "
                f"writes per object: {shown_writes(bare[-1].writes)}",
                flush=True,
            )
            fleet = await new_fleet(lab, kube, "throughput", teams=TEAMS, tickets=COUNT)
            async with fleet.linear.running(), fleet.github.running():
                figures, _ = await operator_run(lab, kube, fleet)
            ours.append(figures)
            print(
                f"  ai-implement: {figures.per_second:.1f} Dispatches/s, {figures.writes_per_second:.0f} writes/s, "
                f"{1000 * figures.cpu_seconds / COUNT:.1f} ms CPU per Dispatch "
                f"({1000 * figures.sandbox_cpu_seconds / COUNT:.1f} ms in the sandboxes); "
                f"writes per Dispatch: {shown_writes(figures.writes)}",
                flush=True,
            )
    ratios = [o.writes_per_second / b.writes_per_second for o, b in zip(ours, bare, strict=True)]
    return [
        Figure.of(
            CASE, f"Dispatches Running per second ({COUNT:,} created at once)", "/s", [o.per_second for o in ours]
        ),
        Figure.of(
            CASE, "API-server writes per second: ai-implement operator", "/s", [o.writes_per_second for o in ours]
        ),
        Figure.of(
            CASE,
            "API-server writes per Dispatch (with its creation)",
            "",
            [sum(o.writes.values()) / COUNT for o in ours],
        ),
        Figure.of(CASE, "operator CPU per Dispatch", "ms", [1000 * o.cpu_seconds / COUNT for o in ours]),
        Figure.of(
            CASE,
            "sandboxes' CPU per Dispatch (GitHub, Linear, in the bench's process)",
            "ms",
            [1000 * o.sandbox_cpu_seconds / COUNT for o in ours],
        ),
        Figure.of(CASE, "bare kopf: objects handled per second", "/s", [b.per_second for b in bare]),
        Figure.of(CASE, "bare kopf: operator CPU per object", "ms", [1000 * b.cpu_seconds / COUNT for b in bare]),
        Figure.of(CASE, "bare kopf: API-server writes per second", "/s", [b.writes_per_second for b in bare]),
        Figure.of(
            CASE,
            "bare kopf: API-server writes per object (with its creation)",
            "",
            [sum(b.writes.values()) / COUNT for b in bare],
        ),
        Figure.of(
            CASE,
            "writes per second, ai-implement ÷ bare kopf (same run)",
            "",
            ratios,
            target=f"≥ {TARGET_RATIO}",
            met=min(ratios) >= TARGET_RATIO,
        ),
    ]
