"""How long each admin UI panel takes to serve at scale: 1,000 mappings and 10,000 log rows.

Run: `.venv/bin/python bench/bench_panels.py [MAPPINGS] [LOG_ROWS]` (default 1000 10000). Starts its
own kube-apiserver and etcd (the binaries `make install` builds), applies MAPPINGS ProjectMappings,
fills a SQLite store through the store's own API (LOG_ROWS dispatch-log rows, and in proportion:
inbox snapshots, tracked pull requests, dedup entries, live sessions, reaper actions, admin
changes), then runs `ai-implement api` as production does, in its own process, signs in through the
form and asks for every panel of the sidebar: first from one client (the server's time for a page),
then from several at once (a steady load: each request also waits for the others). Prints each
panel's p50 / p99 of both, and its size; asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from kubernetes import config

from controller import constants
from controller.devcluster import ControlPlane, install_crds, locate_binaries
from controller.devcluster.controlplane import free_port
from controller.kube import PROJECT_MAPPINGS, KubeClient, connection_from_kubeconfig
from controller.store import Store, upgrade_database
from controller.store.records import IssueSnapshot, ObservedSession
from controller.store.urls import database_url
from controller.store.vocabulary import DispatchKind, PullRequestJobStatus

NAMESPACE = "default"
ACCESS_CODE = "bench-panels-access-code"
ALONE = 40
CLIENTS = 4
REQUESTS_PER_CLIENT = 25
WARM_UP = 3
KINDS: tuple[DispatchKind, ...] = ("planning", "implementation", "review")
JOB_STATUSES: tuple[PullRequestJobStatus, ...] = ("running", "completed", "failed")
NAV_LINK = re.compile(r'<a href="(/admin/[a-z-]+)"[^>]*>([^<]+)</a>')


def mapping(n: int) -> dict[str, object]:
    jira = n % 4 == 3
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": f"t{n}", "namespace": NAMESPACE},
        "spec": {
            "teamKey": f"T{n}",
            "ticketing": (
                {"provider": "jira", "jira": {"jql": f"project = P{n}", "repoField": "Repo", "repoFieldValue": f"r{n}"}}
                if jira
                else {"provider": "linear"}
            ),
            "source": {"owner": "acme", "repo": f"repo-{n}", "defaultBranch": "main"},
            "runner": {"executionMode": ("github-actions", "fly-machines", "local")[n % 3]},
            "capacity": {"maxInProgressAiIssues": 1 + n % 3},
        },
    }


async def apply_mappings(kubeconfig: Path, count: int) -> None:
    async with KubeClient(connection_from_kubeconfig(kubeconfig)) as kube:
        for start in range(0, count, 16):
            batch = [mapping(n) for n in range(start, min(start + 16, count))]
            await asyncio.gather(
                *(kube.apply(PROJECT_MAPPINGS, NAMESPACE, body, "bench", force=True) for body in batch)
            )


async def fill_store(url: str, mappings: int, log_rows: int) -> None:
    """Rows as a busy installation has them, written through the store's API; spread over two days."""
    await upgrade_database(url)
    now = datetime.now(UTC)
    async with Store.from_url(url) as store:
        for n in range(log_rows):
            team = n % mappings
            at = now - timedelta(seconds=(log_rows - n) * 172_800 / log_rows)
            await store.append_dispatch_log(
                now=at,
                issue_id=f"issue-{n}",
                identifier=f"T{team}-{n}",
                title=f"Ticket {n}: make the thing do the other thing",
                team_key=f"T{team}",
                repo=f"acme/repo-{team}",
                kind=KINDS[n % 3],
                iteration=n % 3,
                runner_mode="github-actions",
                session_image="ghcr.io/acme/runner:1",
                status=("Succeeded", "Failed", "Running", "Succeeded")[n % 4],
                dispatch_name=f"t{team}-{n}",
                pull_request_url=f"https://github.com/acme/repo-{team}/pull/{n}" if n % 5 == 0 else None,
            )
        for n in range(log_rows // 7):
            team = n % mappings
            await store.upsert_issue_snapshot(
                IssueSnapshot(
                    issue_id=f"issue-{n}",
                    identifier=f"T{team}-{n}",
                    title=f"Ticket {n}",
                    url=f"https://linear.app/acme/issue/T{team}-{n}",
                    team_key=f"T{team}",
                    provider="linear",
                    state="unstarted",
                    readiness=("ready", "planning-pending", "done")[n % 3],
                    blocked_reason="at-capacity" if n % 4 == 0 else None,
                    updated_at=now - timedelta(minutes=n),
                )
            )
        for n in range(log_rows // 20):
            team = n % mappings
            await store.track_pull_request(
                repo=f"acme/repo-{team}",
                number=n + 1,
                url=f"https://github.com/acme/repo-{team}/pull/{n + 1}",
                head_branch=f"ai/t{team}-{n}",
                issue_id=f"issue-{n}",
                identifier=f"T{team}-{n}",
                title=f"Ticket {n}",
                issue_url=f"https://linear.app/acme/issue/T{team}-{n}",
                team_key=f"T{team}",
                provider="linear",
                job_status=JOB_STATUSES[n % 3],
                iteration=n % 3,
                dispatch_name=f"t{team}-{n}",
                now=now - timedelta(minutes=n),
            )
        for n in range(log_rows // 10):
            team = n % mappings
            await store.record_dedup(
                f"issue-{n}",
                identifier=f"T{team}-{n}",
                title=f"Ticket {n}",
                team_key=f"T{team}",
                provider="linear",
                now=now - timedelta(minutes=n % 1400),
            )
        sessions = [
            ObservedSession(
                backend="github-actions",
                resource_id=str(1000 + n),
                name=f"run {n}",
                state="started",
                backend_state="in_progress",
                created_at=now - timedelta(minutes=n % 90),
                dispatch_name=f"t{n % mappings}-{n}",
                issue_identifier=f"T{n % mappings}-{n}",
                team_key=f"T{n % mappings}",
                repo=f"acme/repo-{n % mappings}",
            )
            for n in range(log_rows // 20)
        ]
        await store.replace_live_sessions("github-actions", sessions, now)
        for n in range(log_rows // 20):
            await store.record_reaper_action(
                at=now - timedelta(minutes=n),
                rule="orphan",
                backend="fly",
                resource_id=f"machine-{n}",
                age_seconds=7200 + n,
                dry_run=False,
                outcome="destroyed",
            )
        for n in range(log_rows // 20):
            await store.append_audit(
                at=now - timedelta(minutes=n), actor="ui", action="mapping.patch", target=f"T{n % mappings}"
            )


def serve_api(kubeconfig: Path, sqlite: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "DEDUP_DB_PATH": str(sqlite),
        "PORT": str(port),
        "METRICS_PORT": str(free_port()),
        "ADMIN_ACCESS_CODE": ACCESS_CODE,
        "AI_IMPLEMENT_NAMESPACE": NAMESPACE,
        "LOG_LEVEL": "ERROR",
    }
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "api"], stdout=output, stderr=subprocess.STDOUT, env=environment
        )


async def signed_in(base: str, mappings: int, process: subprocess.Popen[bytes], log: Path) -> tuple[str, str]:
    """The session cookie (sent by hand: it is Secure outside development) once every mapping is listed."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(600):
            if process.poll() is not None:
                said = await asyncio.to_thread(log.read_text)
                raise SystemExit(f"ai-implement api exited: {said[-3000:]}")
            try:
                token = (await http.post("/api/auth", json={"code": ACCESS_CODE})).json()["token"]
                listed = await http.get("/api/mappings", headers={"Authorization": f"Bearer {token}"})
                if listed.status_code == 200 and listed.json()["total"] >= mappings:
                    break
            except (httpx.TransportError, KeyError):
                pass
            await asyncio.sleep(0.5)
        answer = await http.post(
            "/admin/sign-in", data={"code": ACCESS_CODE, "next": "/admin/overview"}, headers={"Origin": base}
        )
        cookie = answer.headers["set-cookie"].split(";", 1)[0]
        page = (await http.get("/admin/overview", headers={"Cookie": cookie})).text
        return cookie, page


async def measure(
    base: str, headers: dict[str, str], path: str, clients: int, requests: int
) -> tuple[list[float], int]:
    """Seconds per request from `clients` clients at once, after a warm-up; and the answer's size.

    `headers` authenticate: the session cookie for a panel, a bearer token for the JSON API.
    """
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
        size = 0
        for _ in range(WARM_UP):
            answer = await http.get(path)
            answer.raise_for_status()
            size = len(answer.content)

        async def client() -> list[float]:
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                (await http.get(path)).raise_for_status()
                samples.append(time.perf_counter() - started)
            return samples

        per_client = await asyncio.gather(*(client() for _ in range(clients)))
    return [sample for samples in per_client for sample in samples], size


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(kubeconfig: Path, work: Path, mappings: int, log_rows: int) -> None:
    started = time.perf_counter()
    await apply_mappings(kubeconfig, mappings)
    sqlite = work / "bench.sqlite"
    url = database_url(None, str(sqlite))
    await fill_store(url, mappings, log_rows)
    print(f"# {mappings} mappings applied and the store filled in {time.perf_counter() - started:.0f} s", flush=True)
    port, log = free_port(), work / "api.log"
    process = serve_api(kubeconfig, sqlite, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        cookie, overview = await signed_in(base, mappings, process, log)
        panels = list(dict.fromkeys(path for path, _ in NAV_LINK.findall(overview)))
        print(f"# one client x {ALONE} requests, then {CLIENTS} clients x {REQUESTS_PER_CLIENT}; ms", flush=True)
        print(f"{'panel':<24} {'alone p50':>10} {'p99':>7} {'loaded p50':>11} {'p99':>7} {'kB':>6}", flush=True)
        for path in panels:
            alone, size = await measure(base, {"Cookie": cookie}, path, 1, ALONE)
            loaded, _ = await measure(base, {"Cookie": cookie}, path, CLIENTS, REQUESTS_PER_CLIENT)
            figures = [
                statistics.median(alone),
                quantile(alone, 0.99),
                statistics.median(loaded),
                quantile(loaded, 0.99),
            ]
            widths = (10, 7, 11, 7)
            shown = " ".join(f"{1000 * figure:>{width}.1f}" for figure, width in zip(figures, widths, strict=True))
            print(f"{path:<24} {shown} {size / 1000:>6.0f}", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(mappings: int, log_rows: int) -> None:
    with ControlPlane(locate_binaries()) as plane, tempfile.TemporaryDirectory() as work:
        install_crds(config.new_client_from_config(config_file=str(plane.kubeconfig_path)))
        asyncio.run(run(plane.kubeconfig_path, Path(work), mappings, log_rows))


if __name__ == "__main__":
    arguments = [int(arg) for arg in sys.argv[1:]]
    main(*(arguments + [1000, 10000][len(arguments) :]))
