"""Case 2, decision cost: one full decision pass over 10,000 tickets against 1,000 mappings, in CPU time.

The pure part of a poll (routing each ticket to its mapping and deciding it), measured with
`time.process_time`, so other processes on the machine do not count. Target: under 1 s.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bench.suite.figures import Figure
from bench.suite.lab import AI_LABEL, Lab, linear_mapping
from controller.operator.tickets.decision import TicketHistory, decide
from controller.operator.tickets.mappings import build_index
from controller.ticketing.model import StateCategory, Ticket

CASE = "2 decision cost"
MAPPINGS = 1_000
TICKETS = 10_000


def ticket(n: int, now: datetime) -> Ticket:
    team = n % MAPPINGS
    return Ticket(
        provider="linear",
        id=f"id-{n}",
        identifier=f"T{team}-{n}",
        title=f"Ticket {n}",
        url=f"https://linear.app/acme/issue/T{team}-{n}",
        state_name="Todo",
        state=StateCategory.UNSTARTED,
        labels=frozenset({AI_LABEL}),
        updated_at=now - timedelta(minutes=n),
        route_key=f"T{team}",
    )


def one_pass(now: datetime) -> tuple[float, int]:
    """CPU seconds for building the index and deciding every ticket; and how many would dispatch."""
    bodies = [linear_mapping("bench", n) for n in range(MAPPINGS)]
    for n, body in enumerate(bodies):
        body["metadata"] |= {"uid": f"uid-{n}", "generation": 1}
    tickets = [ticket(n, now) for n in range(TICKETS)]
    started = time.process_time()
    index = build_index(bodies)
    dispatches = 0
    for item in tickets:
        routed = index.route(item)
        assert routed is not None, item.identifier
        decision = decide(item, routed.spec, TicketHistory(), active_in_mapping=0, missing_credentials=[], now=now)
        dispatches += decision.dispatches
    return time.process_time() - started, dispatches


async def run(lab: Lab) -> list[Figure]:
    now = datetime.now(UTC)
    passes = [one_pass(now) for _ in range(max(3, lab.repeats))]
    assert all(dispatches == TICKETS for _, dispatches in passes), "every ticket should be dispatchable"
    return [
        Figure.of(
            CASE,
            f"CPU time of one pass: {TICKETS:,} tickets, {MAPPINGS:,} mappings",
            "s",
            [seconds for seconds, _ in passes],
            target="< 1 s",
            met=max(seconds for seconds, _ in passes) < 1,
        )
    ]
