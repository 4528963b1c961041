"""The Grafana dashboard of the monitoring component: it shows what operators watch, from series that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.monitoring.test_alerts import emitted_names

COMPONENT = Path(__file__).parents[2] / "manifests" / "components" / "monitoring"
DASHBOARD = COMPONENT / "dashboards" / "ai-implement.json"


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def test_every_panel_queries_only_series_the_code_emits() -> None:
    emitted = emitted_names()
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            used = set(re.findall(r"\bai_implement_\w+", target["expr"]))
            assert used, panel["title"]
            assert used <= emitted, f"{panel['title']}: {sorted(used - emitted)}"


def test_it_shows_what_operators_watch() -> None:
    queried = " ".join(target["expr"] for panel in dashboard()["panels"] for target in panel["targets"])
    for series in (
        "ai_implement_polls_total",
        "ai_implement_decisions_total",
        "ai_implement_dispatches_created_total",
        "ai_implement_dispatches_finished_total",
        "ai_implement_dispatch_duration_seconds_bucket",
        "ai_implement_live_sessions",
        "ai_implement_reaper_actions_total",
        "ai_implement_api_request_duration_seconds_bucket",
        "ai_implement_api_requests_total",
    ):
        assert series in queried, series
    assert "sum by (backend)" in queried, "live sessions by backend"
    assert "sum by (rule, outcome)" in queried, "reaper actions by rule"


def test_the_component_ships_it_as_a_configmap_for_the_grafana_sidecar() -> None:
    kustomization = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    [generated] = kustomization["configMapGenerator"]
    assert generated["options"]["labels"] == {"grafana_dashboard": "1"}
    assert [COMPONENT / path for path in generated["files"]] == [DASHBOARD]
