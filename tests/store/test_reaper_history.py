"""Reaper history: actions newest first, counts by rule and by dry run, sweeps, and purging."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from controller.store import ReaperAction, ReaperSweep, Store
from tests.store.moments import T0


async def reaped(store: Store, at: datetime = T0, **overrides: Any) -> ReaperAction:
    fields: dict[str, Any] = {
        "at": at,
        "rule": "orphan",
        "backend": "fly",
        "resource_id": "machine-1",
        "age_seconds": 5400,
        "dry_run": False,
        "outcome": "destroyed",
    }
    return await store.record_reaper_action(**(fields | overrides))


async def test_an_action_comes_back_whole(store: Store) -> None:
    recorded = await reaped(
        store, rule="issue-terminal", backend="local", tenant="ENG", issue_identifier="ENG-4", message="done"
    )

    assert await store.recent_reaper_actions(10) == [recorded]
    assert recorded.tenant == "ENG"
    assert recorded.age_seconds == 5400


async def test_recent_actions_are_newest_first_and_limited(store: Store) -> None:
    for minute, resource in ((1, "a"), (3, "c"), (2, "b")):
        await reaped(store, T0 + timedelta(minutes=minute), resource_id=resource)

    recent = await store.recent_reaper_actions(2)

    assert [action.resource_id for action in recent] == ["c", "b"]


async def test_counts_since_a_moment_are_broken_down_by_rule_and_dry_run(store: Store) -> None:
    await reaped(store, T0 - timedelta(seconds=1), rule="orphan")
    await reaped(store, T0, rule="orphan")
    await reaped(store, T0 + timedelta(hours=1), rule="orphan", dry_run=True, outcome="dry-run")
    await reaped(store, T0 + timedelta(hours=2), rule="max-age-exceeded", outcome="failed")

    counts = await store.reaper_counts_since(T0)

    assert counts.total == 3
    assert counts.by_rule == {
        "orphan": 2,
        "stale-terminal-job": 0,
        "max-age-exceeded": 1,
        "issue-terminal": 0,
    }
    assert counts.by_outcome == {"dry-run": 1, "destroyed": 1, "failed": 1}
    assert (counts.dry_run, counts.live) == (1, 2)


async def test_destructions_are_counted_by_rule_and_backend_apart_from_dry_runs_and_failures(store: Store) -> None:
    await reaped(store, rule="orphan", backend="fly")
    await reaped(store, rule="orphan", backend="github-actions", resource_id="acme/web/9")
    await reaped(store, rule="issue-terminal", backend="local")
    await reaped(store, rule="orphan", backend="fly", dry_run=True, outcome="dry-run")
    await reaped(store, rule="max-age-exceeded", backend="fly", outcome="failed")

    counts = await store.reaper_counts_since(T0)

    assert counts.destroyed_by_rule == {
        "orphan": 2,
        "stale-terminal-job": 0,
        "max-age-exceeded": 0,
        "issue-terminal": 1,
    }
    assert counts.destroyed_by_backend == {"fly": 1, "github-actions": 1, "local": 1}
    assert counts.dry_run_by_rule == {"orphan": 1, "stale-terminal-job": 0, "max-age-exceeded": 0, "issue-terminal": 0}


async def test_counts_with_nothing_reaped_are_all_zero(store: Store) -> None:
    counts = await store.reaper_counts_since(T0)

    assert counts.total == 0
    assert set(counts.by_rule.values()) == {0}


@pytest.mark.parametrize(("dry_run", "outcome"), [(True, "destroyed"), (False, "dry-run")])
async def test_a_dry_run_must_say_dry_run_and_only_a_dry_run_may(store: Store, dry_run: bool, outcome: str) -> None:
    with pytest.raises(ValueError, match="contradicts dry_run"):
        await reaped(store, dry_run=dry_run, outcome=outcome)


async def test_the_database_refuses_a_rule_it_does_not_know(store: Store) -> None:
    with pytest.raises(IntegrityError):
        await reaped(store, rule="because-i-said-so")


async def test_the_last_action_time_is_the_latest_action(store: Store) -> None:
    assert await store.last_reaper_action_at() is None

    await reaped(store, T0 + timedelta(minutes=7))
    await reaped(store, T0)

    assert await store.last_reaper_action_at() == T0 + timedelta(minutes=7)


async def test_the_last_sweep_is_known_even_when_it_destroyed_nothing(store: Store) -> None:
    assert await store.last_reaper_sweep() is None

    await store.record_reaper_sweep(started_at=T0, finished_at=T0 + timedelta(seconds=3), dry_run=True)
    await store.record_reaper_sweep(
        started_at=T0 + timedelta(minutes=1),
        finished_at=T0 + timedelta(minutes=1, seconds=2),
        dry_run=False,
        error="fly: 503 from the Machines API",
    )

    assert await store.last_reaper_sweep() == ReaperSweep(
        started_at=T0 + timedelta(minutes=1),
        finished_at=T0 + timedelta(minutes=1, seconds=2),
        dry_run=False,
        error="fly: 503 from the Machines API",
    )


async def test_purging_drops_actions_and_sweeps_before_the_cutoff(store: Store) -> None:
    await reaped(store, T0 - timedelta(days=31), resource_id="old")
    await reaped(store, T0, resource_id="kept")
    await store.record_reaper_sweep(
        started_at=T0 - timedelta(days=31), finished_at=T0 - timedelta(days=31), dry_run=False
    )

    assert await store.purge_reaper_history(older_than=T0 - timedelta(days=30)) == 2
    assert [action.resource_id for action in await store.recent_reaper_actions(10)] == ["kept"]
    assert await store.last_reaper_sweep() is None


async def test_the_last_alert_time_is_the_latest_alert(store: Store) -> None:
    assert await store.last_reaper_alert_at() is None

    await store.record_reaper_alert(at=T0 + timedelta(hours=25), count=12, threshold=10)
    await store.record_reaper_alert(at=T0, count=11, threshold=10)

    assert await store.last_reaper_alert_at() == T0 + timedelta(hours=25)


async def test_purging_drops_alerts_before_the_cutoff_too(store: Store) -> None:
    await store.record_reaper_alert(at=T0 - timedelta(days=31), count=12, threshold=10)
    await store.record_reaper_alert(at=T0, count=15, threshold=10)

    assert await store.purge_reaper_history(older_than=T0 - timedelta(days=30)) == 1
    assert await store.last_reaper_alert_at() == T0

    assert await store.purge_reaper_history(older_than=T0 + timedelta(seconds=1)) == 1
    assert await store.last_reaper_alert_at() is None
