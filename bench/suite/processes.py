"""The controller's own processes, started as production starts them: `ai-implement operator` / `api`.

Cases that measure a process (its memory), kill one (`kill -9`) or need its event loop to itself run
it through `start_controller`; its output goes to a log file in the lab's work directory, named in
every error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.suite.lab import Lab

ROOT = Path(__file__).parents[2]


@dataclass
class ControllerProcess:
    command: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def exited(self) -> bool:
        return self.process.returncode is not None

    def resident_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {self.pid}")

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    async def kill(self) -> None:
        """`kill -9`: no shutdown, no Lease released, nothing flushed."""
        if not self.exited:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if not self.exited:
            self.process.terminate()
            await self.process.wait()


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def start_controller(lab: Lab, command: str, environment: Mapping[str, str], log_name: str) -> ControllerProcess:
    """`python -m controller.cli <command>` with exactly `environment` (plus PATH, HOME, PYTHONPATH)."""
    log = lab.work / f"{log_name}.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "controller.cli",
            command,
            "--env-file",
            str(lab.work / "none.env"),
            env={"PATH": os.environ["PATH"], "HOME": str(lab.work), "PYTHONPATH": str(ROOT), **environment},
            cwd=lab.work,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    return ControllerProcess(command, process, log)


async def operator_metrics(port: int) -> str | None:
    """The operator's /metrics text, or None while it is not answering."""
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            answer = await http.get(f"http://127.0.0.1:{port}/metrics")
        except httpx.TransportError:
            return None
    return answer.text if answer.status_code == 200 else None


async def until_leading(operator: ControllerProcess, port: int, within: float = 120) -> None:
    """Until the operator leads and has polled once (its /metrics says both)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        metrics = await operator_metrics(port) or ""
        if "ai_implement_leader 1.0" in metrics and 'ai_implement_polls_total{outcome="ok"' in metrics:
            return
        if operator.exited or asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"the operator did not lead within {within:.0f} s; see {operator.log}")
        await asyncio.sleep(0.5)


async def until_api_ready(api: ControllerProcess, port: int, within: float = 120) -> None:
    """Until the API answers /readyz with 200 (its store migrated, its caches synced)."""
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            if api.exited or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the API did not get ready within {within:.0f} s; see {api.log}")
            await asyncio.sleep(0.5)
