"""`kill -9` of the leading `ai-implement operator` process, again and again, during a burst of 20 tickets.

Two real operator processes run at any moment; the test kills the leader at a random moment, starts
a new standby, and does it again, ten times. The runs' callbacks go to the API in the test process
(the simulated runner plays every run the GitHub sandbox starts). In the end every ticket has
exactly one Dispatch, run once, closed once: one backend start and one ticket comment per run, none
lost, and every run notified in chat (at least once: see the note at the assertion). The takeover
times (kill to the next leader's kopf) are printed.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.kube import DISPATCHES
from controller.sandbox import LinearSandbox
from controller.sandbox.runner import RunScript
from tests.operator.conftest import LINEAR_KEY, apply_mapping, store_environment
from tests.operator.run_fixtures import APP_ID, RunLoop
from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess, process_environment
from tests.support.waiting import eventually

TICKETS = 20
KILLS = 10
LEASE_SECONDS = 6
POLL_SECONDS = 0.5

pytestmark = pytest.mark.parametrize("databases", ["postgresql"], indirect=True)

Start = Callable[[str], Awaitable[OperatorProcess]]


@pytest.fixture
async def start_process(
    loop: RunLoop,
    linear: LinearSandbox,
    cluster: Cluster,
    namespace: str,
    migrated_database_url: str,
    tmp_path: Path,
    rsa_key_pem: str,
) -> AsyncIterator[Start]:
    environment = {
        **{key: value for key, value in loop.environment().items() if value is not None},
        **process_environment(tmp_path, cluster, namespace),
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_APP_PRIVATE_KEY": rsa_key_pem,
        "LINEAR_API_KEY": LINEAR_KEY,
        "LINEAR_API_URL": f"{linear.url}/graphql",
        "POLL_INTERVAL_MS": str(int(POLL_SECONDS * 1000)),
        "LEADER_LEASE_SECONDS": str(LEASE_SECONDS),
        "LOG_LEVEL": "INFO",
        **store_environment(migrated_database_url, tmp_path),
    }
    started: list[OperatorProcess] = []

    async def start(name: str) -> OperatorProcess:
        operator = await OperatorProcess.launch(name, tmp_path, environment)
        started.append(operator)
        return operator

    try:
        yield start
    finally:
        for operator in started:
            await operator.stop()


async def leader_among(processes: list[OperatorProcess]) -> OperatorProcess | None:
    for process in processes:
        if process.process is None or process.process.returncode is not None:
            continue
        try:
            health = (await process.get("/healthz")).json()
        except httpx.HTTPError:  # not serving yet, or just killed
            continue
        if health.get("leader"):
            return process
    return None


async def wait_for_leader(processes: list[OperatorProcess], within: float) -> OperatorProcess:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        leader = await leader_among(processes)
        if leader is not None:
            return leader
        await asyncio.sleep(0.1)
    logs = "\n".join(process.log.read_text()[-2000:] for process in processes)
    pytest.fail(f"no operator took the lead within {within:.0f} s:\n{logs}")


async def closed_dispatches(loop: RunLoop) -> list[dict[str, Any]]:
    items, _ = await loop.kube.list(DISPATCHES, loop.namespace)
    return [item for item in items if (item.get("status") or {}).get("closedAt")]


async def test_kill_nine_of_the_leader_during_a_burst_loses_nothing_and_does_nothing_twice(
    loop: RunLoop, linear: LinearSandbox, start_process: Start
) -> None:
    seed = random.randrange(1 << 30)  # noqa: S311 - when to kill, not a secret
    chance = random.Random(seed)  # noqa: S311
    print(f"kill -9 trial seed: {seed}")
    loop.add_repo("eng")
    await apply_mapping(
        loop.kube,
        loop.namespace,
        "ENG",
        planning={"enabled": False},
        capacity={"maxInProgressAiIssues": TICKETS, "maxJobMinutes": 30},
    )
    for number in range(TICKETS):
        issue = linear.add_issue("ENG", f"Burst ticket {number}", labels=["AI-Implement"])
        loop.runner.scripts[issue.identifier] = RunScript(step_seconds=0.3)

    processes = [await start_process("replica-0"), await start_process("replica-1")]
    takeovers: list[float] = []
    leader = await wait_for_leader(processes, within=60)
    for kill in range(KILLS):
        await asyncio.sleep(chance.uniform(0.5, 4.0))
        assert leader.process is not None
        leader.process.kill()  # SIGKILL: no release of the Lease, no clean-up of any kind
        await leader.process.wait()
        killed_at = time.monotonic()
        processes.append(await start_process(f"replica-{kill + 2}"))
        leader = await wait_for_leader(processes, within=LEASE_SECONDS * 5)
        takeovers.append(time.monotonic() - killed_at)

    async def all_closed() -> bool:
        return len(await closed_dispatches(loop)) >= TICKETS

    await eventually(all_closed, within=240)

    async def all_let_go() -> bool:  # kopf's finalizer is on an open Dispatch only
        return not any(item["metadata"].get("finalizers") for item in await closed_dispatches(loop))

    await eventually(all_let_go, within=30)
    print("takeover seconds after kill -9:", ", ".join(f"{seconds:.1f}" for seconds in takeovers))

    dispatches = await closed_dispatches(loop)
    by_ticket: dict[str, list[str]] = {}
    for item in dispatches:
        by_ticket.setdefault(item["spec"]["issue"]["identifier"], []).append(item["metadata"]["name"])
    assert len(by_ticket) == TICKETS, by_ticket
    assert all(len(names) == 1 for names in by_ticket.values()), by_ticket
    assert {item["status"]["phase"] for item in dispatches} == {"Succeeded"}
    assert len(loop.github.runs) == TICKETS, "one backend start per run"
    assert sorted(run.started.dispatch_name for run in loop.runner.runs) == sorted(
        item["metadata"]["name"] for item in dispatches
    )
    for identifier in by_ticket:
        assert len(linear.comments_on(identifier)) == 1, f"{identifier} got one closing comment"
    # A chat notification is at least once: Slack's and Teams' incoming webhooks take no idempotency key,
    # so a leader killed between posting one and recording it (milliseconds) makes the next post it again.
    notified = {
        identifier: sum(1 for m in loop.chat.slack_messages if re.search(rf"\b{identifier}\b", m.text))
        for identifier in by_ticket
    }
    print("notifications posted twice (a kill between posting and recording):", sum(notified.values()) - TICKETS)
    assert min(notified.values()) >= 1, f"every run is notified: {notified}"
    assert sum(notified.values()) - TICKETS <= KILLS, f"a repeat only after a kill in that window: {notified}"
    assert max(takeovers) < LEASE_SECONDS * 3, f"a standby takes over once the Lease expires: {takeovers}"
