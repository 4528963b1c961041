"""Case 1, poll cost: requests per poll and poll time, Linear and Jira, as mappings and tickets grow.

The mappings are paused, so a poll does all its work — one search, the decisions, the inbox
snapshot, the statuses — and dispatches nothing: the figure is the poll's own cost. The sandboxes
count the requests they serve. Target: at most one request per provider per poll plus paging, flat
from 1 to 1,000 mappings.
"""

from __future__ import annotations

import asyncio
import math
import time
from contextlib import AbstractAsyncContextManager
from typing import Any

from bench.suite.figures import Figure
from bench.suite.lab import (
    AI_LABEL,
    JIRA_CLOUD_ID,
    JIRA_REPO_FIELD,
    JIRA_SITE_URL,
    JIRA_TOKEN,
    LINEAR_KEY,
    Lab,
    jira_mapping,
    linear_mapping,
)
from controller.kube import PROJECT_MAPPINGS, KubeClient
from controller.operator.runtime import open_operator_runtime
from controller.sandbox import LinearSandbox
from controller.sandbox.base import Sandbox
from controller.sandbox.jira import FieldKind, JiraSandbox
from controller.ticketing.jira.client import SEARCH_PAGE_SIZE as JIRA_PAGE
from controller.ticketing.linear import MAX_PAGE_SIZE as LINEAR_PAGE

CASE = "1 poll cost"
MAPPINGS = (1, 10, 100, 1000)
TICKETS = (150, 1500)
PROVIDERS = ("linear", "jira")


def linear_with(mappings: int, tickets: int) -> LinearSandbox:
    linear = LinearSandbox(request_limit=10_000_000, complexity_limit=10**12)
    linear.add_user("Bench", "bench@example.com", api_key=LINEAR_KEY)
    linear.add_label(AI_LABEL)
    for n in range(mappings):
        linear.add_team(f"T{n}", f"Team {n}")
    for n in range(tickets):
        linear.add_issue(f"T{n % mappings}", f"Ticket {n}", labels=[AI_LABEL])
    return linear


def jira_with(mappings: int, tickets: int) -> JiraSandbox:
    jira = JiraSandbox()
    jira.add_site(JIRA_CLOUD_ID, site_url=JIRA_SITE_URL)
    jira.add_user("Bench", "bench@example.com", token=JIRA_TOKEN, admin=True)
    for n in range(mappings):
        jira.add_project(f"P{n}", f"Project {n}")
    jira.add_field("Repo", FieldKind.SELECT, options=[f"r{n}" for n in range(mappings)], field_id=JIRA_REPO_FIELD)
    for n in range(tickets):
        team = n % mappings
        jira.add_issue(f"P{team}", f"Ticket {n}", labels=[AI_LABEL], fields={"Repo": f"r{team}"})
    return jira


async def apply_mappings(kube: KubeClient, bodies: list[dict[str, Any]]) -> None:
    for start in range(0, len(bodies), 16):
        batch = bodies[start : start + 16]
        await asyncio.gather(
            *(kube.apply(PROJECT_MAPPINGS, b["metadata"]["namespace"], b, "bench", force=True) for b in batch)
        )


async def measure(
    lab: Lab, provider: str, namespace: str, mappings: int, tickets: int
) -> tuple[list[float], list[float], list[int]]:
    """Each quiet poll's seconds, the controller's share of them, and its requests (after a first poll).

    The sandbox answers in this process, so the time it spends answering is taken out of the second
    figure: what is left is the controller's own work (and its waits on the API server).
    """
    sandbox: Sandbox
    if provider == "linear":
        sandbox = linear_with(mappings, tickets)
        variables = {"LINEAR_API_KEY": LINEAR_KEY}
    else:
        sandbox = jira_with(mappings, tickets)
        variables = {"JIRA_TOKEN": JIRA_TOKEN, "JIRA_CLOUD_ID": JIRA_CLOUD_ID, "JIRA_SITE_URL": JIRA_SITE_URL}
    running: AbstractAsyncContextManager[Any] = sandbox.running()
    async with running:
        if provider == "linear":
            variables["LINEAR_API_URL"] = f"{sandbox.url}/graphql"
        else:
            variables["JIRA_API_BASE_URL"] = str(sandbox.url)
        settings = lab.operator_settings(namespace, **variables)
        async with open_operator_runtime(settings, connection=lab.connection()) as runtime:
            await runtime.mappings.wait_synced(60)
            for _ in range(600):  # the watch delivers the mappings applied before within a minute
                if len(runtime.mappings.items()) >= mappings:
                    break
                await asyncio.sleep(0.1)
            (poller,) = runtime.pollers()
            await poller.poll_once()
            await asyncio.sleep(1)  # the watch brings back the statuses the first poll wrote
            seconds, own, requests = [], [], []
            for _ in range(max(3, lab.repeats)):
                before, served = len(sandbox.requests), sandbox.serving_seconds
                started = time.perf_counter()
                report = await poller.poll_once()
                seconds.append(time.perf_counter() - started)
                own.append(seconds[-1] - (sandbox.serving_seconds - served))
                requests.append(len(sandbox.requests) - before)
                assert report is not None, f"the {provider} poll failed"
                assert len(report.outcomes) == tickets, (provider, len(report.outcomes), tickets)
    return seconds, own, requests


async def run(lab: Lab) -> list[Figure]:
    figures: list[Figure] = []
    for provider in PROVIDERS:
        namespace = lab.new_namespace(f"poll-{provider}")
        factory = linear_mapping if provider == "linear" else jira_mapping
        applied = 0
        async with lab.kube() as kube:
            for mappings in MAPPINGS:
                await apply_mappings(kube, [factory(namespace, n, paused=True) for n in range(applied, mappings)])
                applied = mappings
                for tickets in TICKETS:
                    seconds, own, requests = await measure(lab, provider, namespace, mappings, tickets)
                    page = LINEAR_PAGE if provider == "linear" else JIRA_PAGE
                    allowed = math.ceil(tickets / page)
                    label = f"{provider}, {mappings:,} mappings, {tickets:,} tickets"
                    figures.append(
                        Figure.of(
                            CASE,
                            f"requests per poll: {label}",
                            "requests",
                            requests,
                            target=f"≤ {allowed} (one + paging)",
                            met=max(requests) <= allowed,
                        )
                    )
                    figures.append(Figure.of(CASE, f"poll time with the sandbox's answers: {label}", "s", seconds))
                    figures.append(Figure.of(CASE, f"poll time, the controller's share: {label}", "s", own))
                    shown = ", ".join(
                        f"{total:.3f} s ({mine:.3f} s ours)" for total, mine in zip(seconds, own, strict=True)
                    )
                    print(f"  {label}: {requests} requests; {shown}", flush=True)
    return figures
