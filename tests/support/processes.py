"""Running the real `ai-implement` processes as a user would, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from controller.devcluster.controlplane import free_port


@dataclass(frozen=True)
class RunningProcess:
    base_url: str
    log: Path
    metrics_url: str


@contextmanager
def running_api(env: dict[str, str], work_dir: Path, *, timeout: float = 30.0) -> Iterator[RunningProcess]:
    """`ai-implement api` on free ports with exactly `env` (plus PATH/HOME), stopped with SIGTERM."""
    port, metrics_port = free_port(), free_port()
    log = work_dir / "api.log"
    full_env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(work_dir)),
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        **env,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "api", "--env-file", str(work_dir / "no.env")],
            env=full_env,
            cwd=work_dir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_health(base_url, process, log, timeout)
            yield RunningProcess(base_url=base_url, log=log, metrics_url=f"http://127.0.0.1:{metrics_port}/metrics")
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_health(base_url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ai-implement api exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"ai-implement api did not answer /healthz within {timeout:.0f}s:\n{log.read_text()[-4000:]}")
