"""How fast the reaper judges: indexing owners and judging every live resource of a large fleet.

Run: `.venv/bin/python bench/bench_reaper.py`. Prints figures; asserts nothing. The I/O of a sweep
(listing backends and the API server, destroying) is left out: this is the part that grows with
the fleet on the controller's own CPU.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from controller.config import load_settings
from controller.operator.reaper.rules import judge
from controller.operator.reaper.sweeper import resource_facts
from controller.operator.sessions.census import Ownership
from controller.runners.backend import RunHandle

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
NAMESPACE = "ai-implement"
GRACE = timedelta(minutes=10)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def mapping(n: int) -> dict[str, object]:
    return {
        "metadata": {"name": f"team-{n}", "namespace": NAMESPACE},
        "spec": {
            "teamKey": f"TEAM_{n}",
            "ticketing": {"provider": "linear"},
            "source": {"owner": "acme", "repo": f"repo-{n}", "defaultBranch": "main"},
            "capacity": {"maxJobMinutes": 60},
        },
    }


def dispatch(n: int, teams: int) -> dict[str, object]:
    running = n % 3 != 0
    status: dict[str, object] = {
        "phase": "Running" if running else "Failed",
        "deadlineAt": stamp(NOW + timedelta(minutes=30)),
        "runner": {"backend": "fly-machines", "id": f"m{n}"},
    }
    if not running:
        status["finishedAt"] = stamp(NOW - timedelta(hours=1))
    return {
        "metadata": {"name": f"d-{n}", "namespace": NAMESPACE},
        "spec": {
            "mapping": f"TEAM_{n % teams}",
            "issue": {"provider": "linear", "id": f"id-{n}", "identifier": f"T-{n}"},
            "kind": "implementation",
            "runnerMode": "fly-machines",
        },
        "status": status,
    }


def session(n: int) -> dict[str, object]:
    return {
        "metadata": {"name": f"d-{n}", "namespace": NAMESPACE},
        "spec": {"dispatch": f"d-{n}", "backend": "fly-machines", "resourceId": f"m{n}"},
    }


def machine(n: int, owned: int) -> RunHandle:
    metadata = {"dispatch": f"d-{n}", "namespace": NAMESPACE} if n < owned else {}
    return RunHandle(
        backend="fly-machines",
        id=f"m{n}",
        name=f"machine-{n}",
        state="started",
        backend_state="started",
        created_at=NOW - timedelta(minutes=n % 180),
        metadata=metadata,
    )


def main() -> None:
    teams, owned, resources = 200, 4_000, 5_000
    settings = load_settings({}, env_file=None)
    mappings = [mapping(n) for n in range(teams)]
    dispatches = [dispatch(n, teams) for n in range(owned)]
    sessions = [session(n) for n in range(owned)]
    handles = [machine(n, owned) for n in range(resources)]
    tracemalloc.start()
    started = time.perf_counter()
    ownership = Ownership(
        namespace=NAMESPACE,
        tenant=None,
        dispatches=dispatches,
        sessions=sessions,
        mappings=mappings,
        settings=settings,
    )
    index_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    condemned: dict[str, int] = {}
    for handle in handles:
        verdict = judge(resource_facts(handle, ownership.claim(handle), ownership, None), NOW, GRACE)
        if verdict.rule is not None:
            condemned[verdict.rule] = condemned.get(verdict.rule, 0) + 1
    judged = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"owners indexed: {owned} Dispatches, {owned} RunnerSessions, {teams} mappings in {index_ms:.1f} ms")
    print(f"judged {resources} resources in {judged * 1000:.1f} ms ({resources / judged:,.0f} per second)")
    print(f"condemned by rule: {dict(sorted(condemned.items()))}")
    print(f"peak memory while indexing and judging: {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
