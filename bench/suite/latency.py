"""Case 3, time from label to run: a ticket labelled in Linear until the backend is asked to start its run.

`ai-implement api` and `ai-implement operator` run in their own processes on the real API server,
against the Linear sandbox (which signs and sends its `Issue` webhooks as Linear does) and the
GitHub sandbox (which records when each `workflow_dispatch` arrives). Both clocks are this
machine's.

- Webhook path: 200 tickets labelled one after another, four a second, with POLL_INTERVAL_MS at 10
  minutes (the poller cannot help). Targets: p50 under 1 s, p99 under 3 s.
- Poll path: no webhook subscription, POLL_INTERVAL_MS at 5 s, 20 tickets labelled at moments
  spread over several intervals. Target: at most the interval plus 1 s for every ticket.
"""

from __future__ import annotations

import asyncio
import math
import time

from bench.suite.figures import Figure, quantile
from bench.suite.fleet import Fleet, new_fleet
from bench.suite.lab import AI_LABEL, Lab
from bench.suite.processes import ControllerProcess, start_controller, until_api_ready, until_leading
from controller.devcluster.controlplane import free_port
from controller.resources.dispatch import dispatch_name_for

CASE = "3 label to run"
TEAMS = 20
WEBHOOK_TICKETS = 200
WEBHOOK_RATE = 4.0
"""Tickets labelled per second on the webhook path."""
POLL_TICKETS = 20
POLL_INTERVAL_S = 5.0
POLL_SPACING_S = 1.3
"""Not a divisor of the interval: the labels fall at every phase of the poll cycle."""
WEBHOOK_SECRET = "bench-linear-webhook-secret-0123456789"
WAIT = 120.0


async def label_and_time(
    fleet: Fleet, tickets: range, spacing: float, processes: list[ControllerProcess]
) -> list[float]:
    """Label each ticket, `spacing` seconds apart; each one's seconds from label to its run's start."""
    labelled_at: dict[str, float] = {}
    for n in tickets:
        issue = fleet.issues[n]
        labelled_at[dispatch_name_for(issue.identifier, "implementation", 1)] = time.time()
        fleet.linear.update_issue(issue, add_labels=[AI_LABEL])
        await asyncio.sleep(spacing)
    deadline = time.monotonic() + WAIT
    while True:
        started = fleet.run_started_at()
        if all(name in started for name in labelled_at):
            return [started[name] - at for name, at in labelled_at.items()]
        for process in processes:
            if process.exited:
                raise RuntimeError(f"ai-implement {process.command} exited; see {process.log}")
        if time.monotonic() > deadline:
            missing = sorted(set(labelled_at) - set(started))
            raise TimeoutError(f"{len(missing)} tickets never started within {WAIT:.0f} s, e.g. {missing[:3]}")
        await asyncio.sleep(0.2)


async def webhook_path(lab: Lab, fleet: Fleet) -> list[float]:
    api_port, metrics_port, operator_port = free_port(), free_port(), free_port()
    environment = fleet.environment(
        lab,
        PORT=str(api_port),
        METRICS_PORT=str(metrics_port),
        OPERATOR_PORT=str(operator_port),
        LINEAR_WEBHOOK_SECRET=WEBHOOK_SECRET,
        POLL_INTERVAL_MS="600000",
    )
    operator = await start_controller(lab, "operator", environment, f"{fleet.namespace}-webhook-operator")
    api = await start_controller(lab, "api", environment, f"{fleet.namespace}-webhook-api")
    try:
        await until_leading(operator, operator_port)
        await until_api_ready(api, api_port)
        fleet.linear.add_webhook(f"http://127.0.0.1:{api_port}/api/linear/webhook", WEBHOOK_SECRET)
        return await label_and_time(fleet, range(WEBHOOK_TICKETS), 1 / WEBHOOK_RATE, [operator, api])
    finally:
        fleet.linear.webhooks.clear()
        await operator.stop()
        await api.stop()


async def poll_path(lab: Lab, fleet: Fleet) -> list[float]:
    operator_port = free_port()
    environment = fleet.environment(
        lab, OPERATOR_PORT=str(operator_port), POLL_INTERVAL_MS=str(int(POLL_INTERVAL_S * 1000))
    )
    operator = await start_controller(lab, "operator", environment, f"{fleet.namespace}-poll-operator")
    try:
        await until_leading(operator, operator_port)
        tickets = range(WEBHOOK_TICKETS, WEBHOOK_TICKETS + POLL_TICKETS)
        return await label_and_time(fleet, tickets, POLL_SPACING_S, [operator])
    finally:
        await operator.stop()


async def run(lab: Lab) -> list[Figure]:
    async with lab.kube() as kube:
        tickets = WEBHOOK_TICKETS + POLL_TICKETS
        fleet = await new_fleet(
            lab, kube, "latency", teams=TEAMS, tickets=tickets, cap=math.ceil(tickets / TEAMS)
        )  # room for every ticket: no cap holds one back
    async with fleet.linear.running(), fleet.github.running():
        webhook = await webhook_path(lab, fleet)
        polled = await poll_path(lab, fleet)
    print(
        f"  webhook path, {len(webhook)} tickets: p50 {quantile(webhook, 0.5):.2f} s, "
        f"p99 {quantile(webhook, 0.99):.2f} s, max {max(webhook):.2f} s; "
        f"poll path, {len(polled)} tickets: p50 {quantile(polled, 0.5):.2f} s, max {max(polled):.2f} s",
        flush=True,
    )
    bound = POLL_INTERVAL_S + 1
    webhook_targets = (("p50", quantile(webhook, 0.5), 1.0), ("p99", quantile(webhook, 0.99), 3.0))
    return [
        *(
            Figure.of(
                CASE,
                f"webhook path {name}, {WEBHOOK_TICKETS} tickets at {WEBHOOK_RATE:.0f}/s",
                "s",
                [value],
                target=f"< {limit:.0f} s",
                met=value < limit,
            )
            for name, value, limit in webhook_targets
        ),
        Figure.of(CASE, f"poll path p50, POLL_INTERVAL_MS={POLL_INTERVAL_S * 1000:.0f}", "s", [quantile(polled, 0.5)]),
        Figure.of(
            CASE,
            f"poll path max, POLL_INTERVAL_MS={POLL_INTERVAL_S * 1000:.0f}",
            "s",
            [max(polled)],
            target=f"≤ {bound:.0f} s (interval + 1 s)",
            met=max(polled) <= bound,
        ),
    ]
