"""The metric objects themselves, registered in the process-wide default registry."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

API_REQUESTS = Counter(
    "ai_implement_api_requests",
    "HTTP requests served by the API server, by route template, method and status code.",
    ["route", "method", "status"],
)
API_REQUEST_SECONDS = Histogram(
    "ai_implement_api_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def render_latest() -> tuple[bytes, str]:
    """The exposition text of every registered metric and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


POLLS = Counter(
    "ai_implement_polls",
    "Polls of a ticketing provider, by provider and outcome (ok or error).",
    ["provider", "outcome"],
)
LAST_POLL = Gauge(
    "ai_implement_last_poll_timestamp_seconds",
    "When the last successful poll of a provider finished (Unix time): one figure per provider, not per mapping.",
    ["provider"],
)
POLL_SECONDS = Histogram(
    "ai_implement_poll_duration_seconds",
    "Time one poll of a provider took, fetching and deciding.",
    ["provider"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
DECISIONS = Counter(
    "ai_implement_decisions",
    "Decisions about tickets, by team, verdict and reason.",
    ["team", "verdict", "reason"],
)
DISPATCHES_CREATED = Counter(
    "ai_implement_dispatches_created",
    "Dispatch resources created, by team and kind.",
    ["team", "kind"],
)
IN_PROGRESS = Gauge(
    "ai_implement_in_progress",
    "Runs in progress per mapping, as of the last poll.",
    ["team"],
)
CAPACITY = Gauge(
    "ai_implement_capacity",
    "The concurrency cap (maxInProgressAiIssues) per mapping.",
    ["team"],
)
WEBHOOK_EVENTS = Counter(
    "ai_implement_webhook_events",
    "Inbound webhook deliveries, by source and outcome (accepted, replay, stale, bad-signature, ignored).",
    ["source", "outcome"],
)
RUNNER_CALLBACKS = Counter(
    "ai_implement_runner_callbacks",
    "Runner callbacks, by endpoint (credentials, progress, result) and outcome (accepted, rejected, unauthorized).",
    ["endpoint", "outcome"],
)
DISPATCHES_FINISHED = Counter(
    "ai_implement_dispatches_finished",
    "Dispatches that reached a terminal phase, by team, kind and outcome (the phase).",
    ["team", "kind", "outcome"],
)
AGENT_TOKENS = Counter(
    "ai_implement_agent_tokens",
    "Tokens the coding agent reported, by team, kind of run and type (input, output, cache_read, cache_creation).",
    ["team", "kind", "type"],
)
AGENT_COST = Counter(
    "ai_implement_agent_cost_usd",
    "What the coding agent reported its runs cost, in USD, by team and kind of run.",
    ["team", "kind"],
)
DISPATCH_SECONDS = Histogram(
    "ai_implement_dispatch_duration_seconds",
    "Time from a run's start on its backend to its terminal phase, by kind of run (not by team: a histogram "
    "per team would multiply its buckets by the number of mappings).",
    ["kind"],
    buckets=(60, 300, 600, 900, 1800, 2700, 3600, 5400, 7200, 10800),
)
RUNS_STARTED = Counter(
    "ai_implement_runs_started",
    "Runs started on a runner backend, by backend (github-actions, fly-machines, local) and role (primary, shadow).",
    ["backend", "role"],
)
REAPER_ACTIONS = Counter(
    "ai_implement_reaper_actions",
    "Runner resources the reaper acted on, by rule and outcome (dry-run, destroyed, failed).",
    ["rule", "outcome"],
)
REAPER_SWEEPS = Counter(
    "ai_implement_reaper_sweeps",
    "Reaper sweeps, by outcome: ok, partial (some backend could not be listed) or error (nothing judged).",
    ["outcome"],
)
REAPER_SWEEP_SECONDS = Histogram(
    "ai_implement_reaper_sweep_duration_seconds",
    "Time one reaper sweep took: listing every backend, judging and destroying.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
LEADER = Gauge(
    "ai_implement_leader",
    "1 while this operator replica holds the Lease and runs kopf's handlers and the pollers, else 0.",
)
REAPER_LAST_SWEEP = Gauge(
    "ai_implement_reaper_last_sweep_timestamp_seconds",
    "Unix time the last reaper sweep finished; alert when it falls behind REAPER_INTERVAL_SECONDS.",
)
LIVE_SESSIONS = Gauge(
    "ai_implement_live_sessions",
    "Live runner resources (machines, containers, workflow runs) by backend and state, as last listed.",
    ["backend", "state"],
)

STORE_UP = Gauge(
    "ai_implement_store_up",
    "1 when the store (SQLite or PostgreSQL) answered the last check, else 0: set by the API's /readyz and the "
    "leader's periodic check.",
)
DISPATCHES_OVERDUE = Gauge(
    "ai_implement_dispatches_overdue",
    "Unfinished Dispatches whose deadline passed more than OVERDUE_GRACE ago: runs the controller failed to stop.",
)

TEAM_GAUGES = (IN_PROGRESS, CAPACITY)
"""Per-mapping gauges: they describe mappings that exist, on the replica that leads, and nothing else."""


def keep_team_gauges(teams: Iterable[str]) -> None:
    """Drop the per-team series of mappings that are gone, so a deleted mapping stops being reported."""
    wanted = set(teams)
    for gauge in TEAM_GAUGES:
        shown = {sample.labels["team"] for metric in gauge.collect() for sample in metric.samples}
        for team in shown - wanted:
            gauge.remove(team)


def clear_team_gauges() -> None:
    """A replica that stops leading stops reporting mappings: the next leader reports them."""
    for gauge in TEAM_GAUGES:
        gauge.clear()
