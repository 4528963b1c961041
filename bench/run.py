"""`make bench`: run every benchmark case on this machine, print one table, keep the figures.

Run: `.venv/bin/python -m bench.run [--cases 1,2,...] [--repeats N] [--no-write]`. Starts one
kube-apiserver and etcd (the binaries `make install` builds) for every case, runs the cases in
order, prints the table with each target beside its figure, writes bench/results/<date>.json and
replaces the results section of docs/performance.md. Benchmarks report; nothing here fails on a
missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from kubernetes import config

from bench.suite import api_latency, decision_cost, exactly_once, latency, memory, poll_cost, throughput
from bench.suite.figures import Figure, table
from bench.suite.lab import Lab
from controller.devcluster import ControlPlane, install_crds, locate_binaries

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "bench" / "results"
PERFORMANCE = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"

CASES: dict[str, Callable[[Lab], Awaitable[list[Figure]]]] = {
    "1": poll_cost.run,
    "2": decision_cost.run,
    "3": latency.run,
    "4": throughput.run,
    "5": api_latency.run,
    "6": memory.run,
    "7": exactly_once.run,
}


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        model = found.group(1).strip() if found else ""
    memory = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"^MemTotal:\s*(\d+) kB", meminfo.read_text(), re.M)
        memory = int(found.group(1)) // 1024 if found else 0
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memoryMiB": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


async def run_cases(lab: Lab, chosen: list[str]) -> tuple[list[Figure], dict[str, float]]:
    figures: list[Figure] = []
    durations: dict[str, float] = {}
    for key in chosen:
        print(f"# case {key}", flush=True)
        started = time.perf_counter()
        figures += await CASES[key](lab)
        durations[key] = round(time.perf_counter() - started, 1)
        print(f"# case {key} took {durations[key]} s", flush=True)
    return figures, durations


def write_results(figures: list[Figure], durations: dict[str, float], when: datetime) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{when.date().isoformat()}.json"
    document = {
        "date": when.isoformat(timespec="seconds"),
        "machine": machine(),
        "caseSeconds": durations,
        "figures": [figure.as_json() for figure in figures],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def update_performance_doc(figures: list[Figure], when: datetime, results: Path) -> None:
    """Replace what lies between the markers of docs/performance.md with this run's table."""
    text = PERFORMANCE.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{PERFORMANCE} lacks the markers {START} and {END}")
    about = machine()
    section = "\n".join(
        [
            START,
            f"Measured {when.date().isoformat()} by `make bench` on {about['cpus']} CPUs ({about['cpu']}), "
            f"{about['memoryMiB']:,} MiB, Python {about['python']}; figures in "
            f"`{results.relative_to(ROOT)}`.",
            "",
            table(figures),
            END,
        ]
    )
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    PERFORMANCE.write_text(before + section + after)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case numbers (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per figure (min / median / max)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results and docs as they are")
    args = parser.parse_args(argv)
    chosen = [key.strip() for key in args.cases.split(",") if key.strip()]
    unknown = [key for key in chosen if key not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}: choose from {sorted(CASES)}")
    started = time.perf_counter()
    when = datetime.now(UTC)
    with ControlPlane(locate_binaries()) as plane, tempfile.TemporaryDirectory() as work:
        api_client = config.new_client_from_config(config_file=str(plane.kubeconfig_path))
        install_crds(api_client)
        lab = Lab(kubeconfig=plane.kubeconfig_path, work=Path(work), repeats=args.repeats, api_client=api_client)
        figures, durations = asyncio.run(run_cases(lab, chosen))
    print()
    print(table(figures))
    print(f"\n{len(figures)} figures in {time.perf_counter() - started:.0f} s", flush=True)
    if not args.no_write:
        results = write_results(figures, durations, when)
        update_performance_doc(figures, when, results)
        print(f"wrote {results.relative_to(ROOT)} and {PERFORMANCE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
