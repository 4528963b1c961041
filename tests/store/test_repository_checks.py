"""Repository checks: one row per repository and branch, the later read wins, unmapped ones are forgotten."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, timedelta, timezone
from typing import Any

from controller.store import CheckedFile, RepositoryCheck, Store
from tests.store.moments import T0

WORKFLOW = ".github/workflows/ai-implement.yml"
PROMPT = "WORKFLOW.md"


BASE = RepositoryCheck(
    owner="acme",
    repo="web",
    branch="main",
    checked_at=T0,
    files={WORKFLOW: CheckedFile(sha256="a" * 64, template_version=3), PROMPT: None},
    implementation_model="claude-sonnet-4-5",
    planning_model=None,
    planning_model_reason="acme/web:PLANNING.md is not on the default branch",
)


def check(repo: str = "web", branch: str = "main", *, at_minute: int = 0, **changes: Any) -> RepositoryCheck:
    return replace(BASE, repo=repo, branch=branch, checked_at=T0 + timedelta(minutes=at_minute), **changes)


async def test_a_check_comes_back_whole(store: Store) -> None:
    amsterdam = timezone(timedelta(hours=1))
    stored = replace(BASE, checked_at=T0.astimezone(amsterdam))

    assert await store.record_repository_check(stored)

    [back] = await store.repository_checks()
    assert back == check()
    assert back.checked_at.tzinfo == UTC
    assert back.files[WORKFLOW] == CheckedFile(sha256="a" * 64, template_version=3)
    assert back.files[PROMPT] is None


async def test_an_unreadable_repository_keeps_its_error_and_no_files(store: Store) -> None:
    failed = RepositoryCheck(owner="acme", repo="docs", branch="main", checked_at=T0, files={}, error="not installed")

    await store.record_repository_check(failed)

    assert await store.repository_checks() == [failed]


async def test_a_new_check_replaces_the_last_one_and_an_older_one_does_not(store: Store) -> None:
    await store.record_repository_check(check(at_minute=10))

    newer = check(at_minute=20, files={}, implementation_model=None, error="GitHub answered 502")
    assert await store.record_repository_check(newer)
    assert not await store.record_repository_check(check(at_minute=15)), "a slower read that started earlier"

    assert await store.repository_checks() == [newer]


async def test_a_check_at_the_same_moment_replaces_the_last_one(store: Store) -> None:
    await store.record_repository_check(check())
    same_moment = check(implementation_model="claude-opus-4-1")

    assert await store.record_repository_check(same_moment)

    assert await store.repository_checks() == [same_moment]


async def test_each_repository_and_branch_has_its_own_row_in_order(store: Store) -> None:
    for stored in (check("web", "main"), check("api", "main"), check("api", "develop")):
        await store.record_repository_check(stored)

    keys = [stored.key for stored in await store.repository_checks()]

    assert keys == [("acme", "api", "develop"), ("acme", "api", "main"), ("acme", "web", "main")]


async def test_checks_of_unmapped_repositories_are_forgotten(store: Store) -> None:
    for stored in (check("web"), check("api"), check("docs")):
        await store.record_repository_check(stored)

    forgotten = await store.forget_repository_checks([("acme", "api", "main"), ("acme", "gone", "main")])

    assert forgotten == 1
    assert [stored.repo for stored in await store.repository_checks()] == ["docs", "web"]
    assert await store.forget_repository_checks([]) == 0


async def test_concurrent_writers_leave_the_latest_read(store: Store) -> None:
    reads = [check(at_minute=minute, implementation_model=f"model-{minute}") for minute in (3, 1, 4, 2)]

    await asyncio.gather(*(store.record_repository_check(read) for read in reads))

    [kept] = await store.repository_checks()
    assert kept.implementation_model == "model-4"
