"""How fast the pure parts of a poll are: routing and deciding for many tickets and mappings.

Run: `.venv/bin/python bench/bench_decisions.py`. Prints figures; asserts nothing (timings are
machine-dependent and belong in a benchmark, not in the test suite).
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from controller.operator.tickets.decision import TicketHistory, decide
from controller.operator.tickets.mappings import build_index
from controller.ticketing.model import StateCategory, Ticket

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def mapping(n: int) -> dict[str, object]:
    return {
        "metadata": {"name": f"team-{n}", "namespace": "ai-implement", "uid": f"uid-{n}", "generation": 1},
        "spec": {
            "teamKey": f"TEAM_{n}",
            "ticketing": {"provider": "linear", "linear": {"teamKey": f"T{n}"}},
            "source": {"owner": "acme", "repo": f"repo-{n}", "defaultBranch": "main"},
        },
    }


def ticket(n: int, teams: int) -> Ticket:
    return Ticket(
        provider="linear",
        id=f"id-{n}",
        identifier=f"T{n % teams}-{n}",
        title=f"Ticket {n}",
        url=f"https://linear.app/acme/issue/T{n % teams}-{n}",
        state_name="Todo",
        state=StateCategory.UNSTARTED,
        labels=frozenset({"AI-Implement"}),
        updated_at=NOW - timedelta(minutes=n),
        route_key=f"T{n % teams}",
    )


def main() -> None:
    teams, tickets_count = 200, 10_000
    started = time.perf_counter()
    index = build_index([mapping(n) for n in range(teams)])
    index_ms = (time.perf_counter() - started) * 1000
    tickets = [ticket(n, teams) for n in range(tickets_count)]
    tracemalloc.start()
    started = time.perf_counter()
    dispatched = 0
    for item in tickets:
        routed = index.route(item)
        assert routed is not None
        decision = decide(item, routed.spec, TicketHistory(), active_in_mapping=0, missing_credentials=[], now=NOW)
        dispatched += decision.dispatches
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"index of {teams} mappings built in {index_ms:.1f} ms")
    print(f"{tickets_count} tickets routed and decided in {elapsed * 1000:.1f} ms ({tickets_count / elapsed:,.0f}/s)")
    print(f"peak memory while deciding: {peak / 1024:.0f} KiB; dispatch verdicts: {dispatched}")


if __name__ == "__main__":
    main()
