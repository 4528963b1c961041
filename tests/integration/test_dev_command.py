"""`ai-implement dev` as a newcomer runs it: start, watch a ticket succeed and a leftover reaped, Ctrl-C.

The real command in a child process, with its own control plane, SQLite and sandboxes; only the
port and the working directory are chosen by the test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from controller.devcluster import ControlPlaneError, locate_binaries
from controller.devcluster.controlplane import free_port

ADMIN_CODE = "dev-smoke-test-code"
START_WITHIN_SECONDS = 120
SUCCEED_WITHIN_SECONDS = 120


def wait_for_login(base: str, process: subprocess.Popen[bytes]) -> dict[str, str]:
    deadline = time.monotonic() + START_WITHIN_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "ai-implement dev exited before serving"
        try:
            answer = httpx.post(f"{base}/api/auth", json={"code": ADMIN_CODE}, timeout=2)
            if answer.status_code == 200:
                return {"Authorization": f"Bearer {answer.json()['token']}"}
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail("ai-implement dev did not serve /api/auth in time")


def succeeded_jobs(base: str, headers: dict[str, str]) -> list[dict[str, object]]:
    """Implementation runs that succeeded: they, not a planning run that may end first, open a pull request."""
    body = httpx.get(f"{base}/api/log", headers=headers, timeout=5).json()
    return [
        dispatch
        for job in body["jobs"]
        for dispatch in job["dispatches"]
        if dispatch["status"] == "succeeded" and dispatch["kind"] == "implementation"
    ]


def reaped_orphans(base: str, headers: dict[str, str]) -> int:
    """Orphans destroyed so far, once the first sweep has finished (it starts with the leadership)."""
    deadline = time.monotonic() + SUCCEED_WITHIN_SECONDS
    while time.monotonic() < deadline:
        summary = httpx.get(f"{base}/api/reaper/summary", headers=headers, timeout=5).json()
        if summary["lastSweepAt"] is not None:
            return int(summary["destroyed"]["byRule"]["orphan"])
        time.sleep(1)
    pytest.fail("the reaper never finished a sweep")


STORY_WITHIN_SECONDS = 300
STORY_END = "[story] that is the whole story"


def story_lines(log: Path, process: subprocess.Popen[bytes]) -> list[str]:
    """The story's lines, once it has told all of it (or stopped, which fails with its reason)."""
    deadline = time.monotonic() + STORY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "ai-implement dev exited during the story"
        lines = [line for line in log.read_text().splitlines() if line.startswith("[story]")]
        stopped = [line for line in lines if line.startswith("[story] stopped")]
        assert not stopped, stopped
        if any(line.startswith(STORY_END) for line in lines):
            return lines
        time.sleep(1)
    text = log.read_text()
    told = [line for line in text.splitlines() if line.startswith("[story]")]
    pytest.fail(f"the story did not finish; it told {told}; the log ends: {text[-3000:]}")


def accepted_webhooks(metrics_url: str) -> dict[str, float]:
    """`ai_implement_webhook_events_total{outcome="accepted"}` by source, from /metrics."""
    counts = {}
    for line in httpx.get(metrics_url, timeout=5).text.splitlines():
        match = re.fullmatch(r'ai_implement_webhook_events_total\{outcome="accepted",source="(\w+)"\} (\S+)', line)
        if match is not None:
            counts[match.group(1)] = float(match.group(2))
    return counts


def jobs_by_ticket(base: str, headers: dict[str, str]) -> dict[str, set[str]]:
    body = httpx.get(f"{base}/api/log", headers=headers, timeout=5).json()
    kinds: dict[str, set[str]] = {}
    for job in body["jobs"]:
        for dispatch in job["dispatches"]:
            kinds.setdefault(job["identifier"], set()).add(dispatch["kind"])
    return kinds


def ended(base: str, headers: dict[str, str], identifier: str, status: str) -> bool:
    """Whether one of the ticket's runs ended with `status` in the dispatch log, waiting for it a while."""
    deadline = time.monotonic() + STORY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        body = httpx.get(f"{base}/api/log", headers=headers, timeout=5).json()
        statuses = [
            dispatch["status"]
            for job in body["jobs"]
            if job["identifier"] == identifier
            for dispatch in job["dispatches"]
        ]
        if status in statuses:
            return True
        time.sleep(2)
    return False


@pytest.mark.controlplane  # its own kube-apiserver and etcd, which no faked clock reaches
def test_make_dev_shows_a_ticket_succeed_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    try:
        locate_binaries()
    except ControlPlaneError as error:
        pytest.fail(f"the control-plane binaries cannot be built (make install builds them): {error}")
    port, metrics_port = free_port(), free_port()
    base, metrics_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"
    environment = {**os.environ, "ADMIN_ACCESS_CODE": ADMIN_CODE, "PORT": str(port), "METRICS_PORT": str(metrics_port)}
    environment.pop("KUBECONFIG", None)
    log = (tmp_path / "dev.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "dev", "--work-dir", str(tmp_path / "work")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environment,
    )
    try:
        headers = wait_for_login(base, process)
        deadline = time.monotonic() + SUCCEED_WITHIN_SECONDS
        succeeded: list[dict[str, object]] = []
        while time.monotonic() < deadline and not succeeded:
            succeeded = succeeded_jobs(base, headers)
            time.sleep(1)
        assert succeeded, "no dispatch succeeded: " + (tmp_path / "dev.log").read_text()[-3000:]
        steps = httpx.get(f"{base}/api/jobs/{succeeded[0]['jobId']}/steps", headers=headers, timeout=5).json()
        assert steps["steps"]
        assert {step["status"] for step in steps["steps"]} <= {"succeeded", "skipped"}
        assert "open-pull-request" in [step["name"] for step in steps["steps"]]
        assert reaped_orphans(base, headers) == 1, "the leftover machine the dev seed leaves is reaped"
        lines = story_lines(tmp_path / "dev.log", process)
        assert any(line.startswith("[story] OPS-2 became Dispatch ops-2-implementation-1") for line in lines)
        assert any(line.startswith("[story] PAY-3 became Dispatch pay-3-implementation-1") for line in lines)
        webhooks = accepted_webhooks(metrics_url)
        assert {"linear", "jira", "github"} <= {source for source, count in webhooks.items() if count > 0}, webhooks
        kinds = jobs_by_ticket(base, headers)
        assert {"implementation", "review", "gap-fill"} <= kinds["ENG-1"], kinds
        assert "implementation" in kinds["PAY-1"], "the Jira mapping's seeded ticket ran in local Docker"
        assert "implementation" in kinds["OPS-2"]
        assert "implementation" in kinds["PAY-3"]
        assert ended(base, headers, "PAY-2", "failed"), "the seeded agent that dies without an answer fails its run"
        assert ended(base, headers, "ENG-2", "failed"), "the repository's own tests reject ENG-2's change"
        jobs = httpx.get(f"{base}/api/log", headers=headers, timeout=5).json()["jobs"]
        eng_2 = [d["kind"] for job in jobs if job["identifier"] == "ENG-2" for d in job["dispatches"]]
        assert sorted(eng_2) == ["implementation", "planning"], "a failed run is not dispatched again at once"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        log.close()
    output = (tmp_path / "dev.log").read_text()
    assert code == 0, output[-3000:]
    assert "Admin code:   dev-smoke-test-code" in output
    assert output.rstrip().endswith("stopped")
