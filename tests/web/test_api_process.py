"""The `ai-implement api` process itself: starts, serves, survives an unreachable Kubernetes API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from controller.devcluster.controlplane import free_port
from tests.support.cluster import Cluster
from tests.support.processes import running_api

CODE = "process-test-code"


def _env(kubeconfig: Path, namespace: str, work_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "KUBECONFIG": str(kubeconfig),
        "AI_IMPLEMENT_NAMESPACE": namespace,
        "DEDUP_DB_PATH": str(work_dir / "dedup.sqlite"),
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def test_the_process_serves_the_api_over_the_real_cluster(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    with running_api(_env(cluster.kubeconfig, namespace, tmp_path, ADMIN_ACCESS_CODE=CODE), tmp_path) as api:
        ready = httpx.get(f"{api.base_url}/readyz", timeout=10)
        for _ in range(50):
            if ready.status_code == 200:
                break
            ready = httpx.get(f"{api.base_url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        token = httpx.post(f"{api.base_url}/api/auth", json={"code": CODE}).json()["token"]
        listing = httpx.get(f"{api.base_url}/api/mappings", headers={"Authorization": f"Bearer {token}"})
        assert listing.status_code == 200
        assert httpx.get(f"{api.base_url}/metrics").status_code == 404, "metrics are not on the public port"
        metrics = httpx.get(api.metrics_url).text
        assert 'ai_implement_api_requests_total{method="GET",route="/api/mappings",status="200"}' in metrics
        assert "ai_implement_store_up 1.0" in metrics, "the readiness check reports the store's reach"
        lines = [line for line in api.log.read_text().splitlines() if line.strip()]
        assert all(line.startswith("{") for line in lines), lines


def test_the_process_starts_while_kubernetes_is_unreachable(cluster: Cluster, tmp_path: Path) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    broken = tmp_path / "unreachable-kubeconfig"
    broken.write_text(yaml.safe_dump(config))
    with running_api(_env(broken, "default", tmp_path), tmp_path) as api:
        assert httpx.get(f"{api.base_url}/healthz").status_code == 200
        readiness = httpx.get(f"{api.base_url}/readyz", timeout=10)
        assert readiness.status_code == 503
        assert readiness.json()["checks"]["kubernetes"]["ok"] is False
        assert httpx.get(f"{api.base_url}/api/mappings").status_code == 404
    with running_api(_env(broken, "default", tmp_path, ADMIN_ACCESS_CODE=CODE), tmp_path) as api:
        token = httpx.post(f"{api.base_url}/api/auth", json={"code": CODE}).json()["token"]
        listing = httpx.get(f"{api.base_url}/api/mappings", headers={"Authorization": f"Bearer {token}"})
        assert listing.status_code == 503
        assert "Kubernetes API" in listing.json()["error"]["message"]


def test_a_bad_configuration_stops_the_process_naming_the_variable(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "api", "--env-file", str(tmp_path / "none")],
        env={"PATH": "/usr/bin:/bin", "PORT": "99999", "PYTHONPATH": str(Path(__file__).parents[2])},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert "PORT=99999" in result.stderr


def test_config_status_answers_while_kubernetes_is_unreachable(cluster: Cluster, tmp_path: Path) -> None:
    """The first place to look when nothing dispatches must answer most when something is down."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = f"https://127.0.0.1:{free_port()}"
    config["clusters"][0]["cluster"]["server"] = server
    broken = tmp_path / "unreachable-kubeconfig"
    broken.write_text(yaml.safe_dump(config))
    env = _env(broken, "default", tmp_path, ADMIN_ACCESS_CODE=CODE, GITHUB_WEBHOOK_SECRET="w" * 32)
    with running_api(env, tmp_path) as api:
        token = httpx.post(f"{api.base_url}/api/auth", json={"code": CODE}).json()["token"]
        answer = httpx.get(
            f"{api.base_url}/api/admin/config-status", headers={"Authorization": f"Bearer {token}"}, timeout=20
        )
    assert answer.status_code == 200, answer.text
    checks = {check["id"]: check for check in answer.json()["checks"]}
    assert list(checks) == ["kubernetes", "ticketing", "runner-callback", "gap-fill-trigger", "github-webhook"]
    kubernetes = checks["kubernetes"]
    assert kubernetes["status"] == "error"
    assert kubernetes["message"].startswith(f"the API server at {server} is unreachable")
    assert "KUBECONFIG" in kubernetes["message"]
    assert checks["github-webhook"]["status"] == "ok"
    assert checks["ticketing"]["status"] == "error"


def test_a_metrics_port_in_use_is_one_error_line_and_exit_1(cluster: Cluster, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - the API binds every interface; so must the squatter
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **_env(cluster.kubeconfig, "default", tmp_path),
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(Path(__file__).parents[2]),
            "PORT": str(free_port()),
            "METRICS_PORT": str(port),
        }
        result = subprocess.run(
            [sys.executable, "-m", "controller.cli", "api", "--env-file", str(tmp_path / "no.env")],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: cannot serve /metrics on METRICS_PORT={port}: ")
