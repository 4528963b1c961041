"""The leader's repository checks: each repository read once per round, a few at a time, into the store.

The operator runtime runs on the real API server with the GitHub sandbox; the refresher's rounds
are driven directly on the operator's fake clock, and the API of the run loop (same database)
answers the admin listings from what the rounds stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from controller.github import GitHubRateLimited
from controller.kube import PROJECT_MAPPINGS
from controller.operator.reviews.workflow_templates import RepositoryReader, TemplateStatusRefresher
from controller.operator.runtime import OperatorRuntime
from controller.store import RepositoryCheck
from controller.workflows import RECHECK_EVERY, TEMPLATE_VERSION, RepositoryKey, WorkflowSync
from tests.operator.conftest import apply_mapping, cached
from tests.operator.run_fixtures import OWNER, RunLoop
from tests.support.clock import FakeClock
from tests.support.waiting import eventually


@dataclass
class WatchedReader:
    """The real reader, counting what it is asked and how many reads overlap; a key in `limited` is rate-limited."""

    inner: RepositoryReader
    limited: set[RepositoryKey] = field(default_factory=set)
    asked: list[RepositoryKey] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def check(self, key: RepositoryKey) -> RepositoryCheck:
        self.asked.append(key)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)  # long enough for the other readers to start theirs
            if key in self.limited:
                raise GitHubRateLimited("API rate limit exceeded", status=403, retry_after=60)
            return await self.inner.check(key)
        finally:
            self.in_flight -= 1


def refresher(runtime: OperatorRuntime, reader: WatchedReader) -> TemplateStatusRefresher:
    return TemplateStatusRefresher(
        runtime.kube,
        runtime.namespace,
        runtime.mappings,
        runtime.mapping_directory,
        runtime.store,
        reader,
        runtime.clock,
        TEMPLATE_VERSION,
        concurrency=2,
    )


def watched(loop: RunLoop, runtime: OperatorRuntime) -> WatchedReader:
    github = loop.api.context.github
    assert github is not None
    return WatchedReader(WorkflowSync(github, clock=runtime.clock))


def key(repo: str) -> RepositoryKey:
    return (OWNER, repo, "main")


async def mapped(loop: RunLoop, team_key: str, repo: str, **spec: Any) -> None:
    source = {"owner": OWNER, "repo": repo, "defaultBranch": "main"}
    await apply_mapping(loop.kube, loop.namespace, team_key, source=source, **spec)


async def workflow_template(loop: RunLoop, name: str) -> str | None:
    mapping = await loop.kube.get(PROJECT_MAPPINGS, loop.namespace, name)
    state: str | None = (mapping.get("status") or {}).get("workflowTemplate")
    return state


async def test_a_round_reads_each_repository_once_a_few_at_a_time_and_stores_what_it_found(
    loop: RunLoop, operator_clock: FakeClock
) -> None:
    for repo in ("web", "api", "pay", "ops"):
        loop.add_repo(repo)
    for team_key, repo in [("ENG", "web"), ("WEB", "web"), ("API", "api"), ("PAY", "pay"), ("OPS", "ops")]:
        await mapped(loop, team_key, repo)
    await mapped(loop, "DOCS", "docs")  # the App is not installed there
    runtime = await loop.operator()
    await cached(runtime, "eng", "web", "api", "pay", "ops", "docs")
    reader = watched(loop, runtime)
    calls = len(loop.github.requests)

    written = await refresher(runtime, reader).refresh_due()

    assert written == 6
    assert sorted(reader.asked) == sorted(map(key, ["web", "api", "pay", "ops", "docs"])), "web once for two mappings"
    assert reader.most_in_flight == 2
    branch_reads = [r.path for r in loop.github.requests[calls:] if r.path.endswith("/git/ref/heads/main")]
    assert sorted(branch_reads) == [f"/repos/acme/{repo}/git/ref/heads/main" for repo in ("api", "ops", "pay", "web")]
    checks = {check.repo: check for check in await runtime.store.repository_checks()}
    assert set(checks) == {"web", "api", "pay", "ops", "docs"}
    assert all(check.checked_at == operator_clock() for check in checks.values())
    assert checks["web"].error is None
    assert checks["web"].implementation_model_reason == "acme/web:WORKFLOW.md is not on the default branch: " + (
        "sync the workflows to add it"
    )
    assert "not installed on acme/docs" in (checks["docs"].error or "")
    assert await workflow_template(loop, "eng") == "missing"
    assert await workflow_template(loop, "docs") == "unknown"

    headers = await loop.api.login()
    response = await loop.api.client.get("/api/admin/template-status", headers=headers)
    rows = {row["teamKey"]: row for row in (await response.json())["repos"]}
    assert {team: row["state"] for team, row in rows.items()} == {
        "API": "missing",
        "DOCS": "unknown",
        "ENG": "missing",
        "OPS": "missing",
        "PAY": "missing",
        "WEB": "missing",
    }
    assert rows["ENG"]["checkedAt"] == operator_clock().isoformat().replace("+00:00", "Z")


async def test_a_round_reads_only_new_repositories_until_the_checks_grow_old(
    loop: RunLoop, operator_clock: FakeClock
) -> None:
    for repo in ("web", "api"):
        loop.add_repo(repo)
    await mapped(loop, "ENG", "web")
    runtime = await loop.operator()
    await cached(runtime, "eng")
    reader = watched(loop, runtime)
    templates = refresher(runtime, reader)
    assert await templates.refresh_due() == 1

    calls = len(loop.github.requests)
    assert await templates.refresh_due() == 0, "nothing due, nothing changed"
    assert len(loop.github.requests) == calls, "no GitHub call in a round with nothing due"

    await mapped(loop, "API", "api")
    await cached(runtime, "api")
    reader.asked.clear()
    assert await templates.refresh_due() == 1
    assert reader.asked == [key("api")], "a new mapping's repository is read at the next round, alone"

    operator_clock.advance(RECHECK_EVERY)
    reader.asked.clear()
    assert await templates.refresh_due() == 0, "read again, found the same: no status written"
    assert sorted(reader.asked) == [key("api"), key("web")]

    await runtime.kube.delete(PROJECT_MAPPINGS, runtime.namespace, "api")
    await eventually(lambda: [m["metadata"]["name"] for m in runtime.mappings.items()] == ["eng"])
    await templates.refresh_due()
    assert [check.repo for check in await runtime.store.repository_checks()] == ["web"], "the unmapped one forgotten"


async def test_a_rate_limit_ends_the_round_and_the_rest_are_read_at_the_next(
    loop: RunLoop, operator_clock: FakeClock
) -> None:
    repos = ["r1", "r2", "r3", "r4", "r5", "r6"]
    for number, repo in enumerate(repos, start=1):
        loop.add_repo(repo)
        await mapped(loop, f"T{number}", repo)
    runtime = await loop.operator()
    await cached(runtime, *(f"t{number}" for number in range(1, 7)))
    reader = watched(loop, runtime)
    reader.limited = {key("r1")}
    templates = refresher(runtime, reader)

    await templates.refresh_due()

    assert len(reader.asked) < len(repos), "the readers stopped once GitHub asked to wait"
    assert key("r1") not in {check.key for check in await runtime.store.repository_checks()}
    reader.limited.clear()
    reader.asked.clear()
    await templates.refresh_due()
    assert key("r1") in reader.asked
    assert {check.repo for check in await runtime.store.repository_checks()} == set(repos)
