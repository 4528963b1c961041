"""Metrics that stay true: per-team series only for mappings that exist, and every metric documented."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, Counter, Gauge, Histogram

import controller.metrics.definitions as definitions
from controller.metrics import CAPACITY, IN_PROGRESS, clear_team_gauges, keep_team_gauges

METRICS_DOC = Path(__file__).parents[2] / "docs" / "metrics.md"


@pytest.fixture
def team_gauges() -> Iterator[None]:
    yield
    clear_team_gauges()


@pytest.mark.usefixtures("team_gauges")
def test_a_deleted_mappings_series_go_and_a_replica_that_stops_leading_drops_them_all() -> None:
    for team in ("KEEP", "GONE"):
        IN_PROGRESS.labels(team).set(1)
        CAPACITY.labels(team).set(2)

    keep_team_gauges(["KEEP"])

    assert REGISTRY.get_sample_value("ai_implement_in_progress", {"team": "KEEP"}) == 1
    assert REGISTRY.get_sample_value("ai_implement_in_progress", {"team": "GONE"}) is None
    assert REGISTRY.get_sample_value("ai_implement_capacity", {"team": "GONE"}) is None
    clear_team_gauges()
    assert REGISTRY.get_sample_value("ai_implement_capacity", {"team": "KEEP"}) is None


def test_the_duration_histogram_does_not_multiply_by_team_and_the_reaper_says_outcome() -> None:
    assert definitions.DISPATCH_SECONDS._labelnames == ("kind",)
    assert definitions.REAPER_ACTIONS._labelnames == ("rule", "outcome")


def test_every_metric_and_label_is_documented() -> None:
    text = METRICS_DOC.read_text()
    rows = {match[0]: match[1] for match in re.findall(r"^\| `(ai_implement_\w+)` \| \w+ \| ([^|]*) \|", text, re.M)}
    for metric in vars(definitions).values():
        if not isinstance(metric, Counter | Gauge | Histogram):
            continue
        name = metric._name + ("_total" if isinstance(metric, Counter) else "")
        assert name in rows, f"docs/metrics.md does not describe {name}"
        documented = re.findall(r"`(\w+)`", rows[name])
        assert documented == list(metric._labelnames), name
