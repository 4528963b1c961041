"""The metric objects themselves, registered in the process-wide default registry."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

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
