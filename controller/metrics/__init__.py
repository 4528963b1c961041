"""Prometheus metrics: every metric of every process is declared here, with one naming scheme.

Names start with `ai_implement_`; label values are bounded sets (route templates, not paths).
"""

from controller.metrics.definitions import (
    API_REQUEST_SECONDS,
    API_REQUESTS,
    CAPACITY,
    DECISIONS,
    DISPATCH_SECONDS,
    DISPATCHES_CREATED,
    DISPATCHES_FINISHED,
    IN_PROGRESS,
    LAST_POLL,
    LEADER,
    LIVE_SESSIONS,
    POLL_SECONDS,
    POLLS,
    REAPER_ACTIONS,
    REAPER_LAST_SWEEP,
    REAPER_SWEEP_SECONDS,
    REAPER_SWEEPS,
    RUNNER_CALLBACKS,
    RUNS_STARTED,
    WEBHOOK_EVENTS,
    render_latest,
)

__all__ = [
    "API_REQUESTS",
    "API_REQUEST_SECONDS",
    "CAPACITY",
    "DECISIONS",
    "DISPATCHES_CREATED",
    "DISPATCHES_FINISHED",
    "DISPATCH_SECONDS",
    "IN_PROGRESS",
    "LAST_POLL",
    "LEADER",
    "LIVE_SESSIONS",
    "POLLS",
    "POLL_SECONDS",
    "REAPER_ACTIONS",
    "REAPER_LAST_SWEEP",
    "REAPER_SWEEPS",
    "REAPER_SWEEP_SECONDS",
    "RUNNER_CALLBACKS",
    "RUNS_STARTED",
    "WEBHOOK_EVENTS",
    "render_latest",
]
