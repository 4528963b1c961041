"""The alert rules of the monitoring component, run by promtool against the series the code emits.

`promtool test rules` evaluates each alert on synthetic series (tests/monitoring/alerts_test.yaml);
this module also holds every metric an expression names to the definitions in
`controller/metrics/definitions.py`, and every alert to its runbook section in docs/operations.md.
promtool comes with Debian's `prometheus` package, which `make install` installs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

import controller.metrics.definitions as definitions

ROOT = Path(__file__).parents[2]
RULE = ROOT / "manifests" / "components" / "monitoring" / "prometheusrule.yaml"
TESTS = Path(__file__).with_name("alerts_test.yaml")
OPERATIONS = ROOT / "docs" / "operations.md"


def rule_groups() -> dict[str, Any]:
    groups: dict[str, Any] = {"groups": yaml.safe_load(RULE.read_text())["spec"]["groups"]}
    return groups


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_groups()["groups"] for rule in group["rules"] if "alert" in rule]


def emitted_names() -> set[str]:
    """Every series name the controller can emit: counters with `_total`, histograms with their parts."""
    names: set[str] = set()
    for metric in vars(definitions).values():
        if isinstance(metric, Counter):
            names.add(f"{metric._name}_total")
        elif isinstance(metric, Histogram):
            names |= {f"{metric._name}_{part}" for part in ("bucket", "sum", "count")}
        elif isinstance(metric, Gauge):
            names.add(metric._name)
    return names


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: `make install` installs Debian's prometheus package")
    return found


def test_the_rules_pass_promtools_check_and_unit_tests(tmp_path: Path) -> None:
    (tmp_path / "alerts.rules.yaml").write_text(yaml.safe_dump(rule_groups()))
    (tmp_path / "alerts_test.yaml").write_text(TESTS.read_text())

    checked = subprocess.run(
        [promtool(), "check", "rules", "alerts.rules.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    tested = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_tested_and_names_only_series_the_code_emits() -> None:
    tested = set(re.findall(r"alertname: (\w+)", TESTS.read_text()))
    emitted = emitted_names()
    for alert in alerts():
        assert alert["alert"] in tested, f"{alert['alert']} has no promtool test"
        used = set(re.findall(r"\bai_implement_\w+", alert["expr"]))
        assert used <= emitted, f"{alert['alert']} names series the code never emits: {sorted(used - emitted)}"


def test_every_alert_has_its_runbook_section() -> None:
    headings = {
        line.removeprefix("### ").strip() for line in OPERATIONS.read_text().splitlines() if line.startswith("### ")
    }
    for alert in alerts():
        assert alert["alert"] in headings, f"docs/operations.md has no runbook for {alert['alert']}"
        assert alert["annotations"]["runbook"] == f"docs/operations.md#{alert['alert'].lower()}"


def test_the_component_lists_every_file_it_holds() -> None:
    component = RULE.parent
    kustomization = yaml.safe_load((component / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Component"
    assert set(kustomization["resources"]) == {path.name for path in component.glob("*.yaml")} - {"kustomization.yaml"}
