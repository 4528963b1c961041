"""The dispatch log: appended entries, newest first, and status updates by dispatch name."""

from datetime import UTC, datetime, timedelta
from typing import Any

from controller.store import DISPATCH_LOG_PAGE, DispatchLogEntry, Store, Usage
from tests.store.moments import T0


async def log_dispatch(store: Store, **overrides: Any) -> DispatchLogEntry:
    fields: dict[str, Any] = {
        "now": T0,
        "issue_id": "issue-1",
        "identifier": "ENG-1",
        "title": "Add a button",
        "team_key": "ENG",
        "repo": "acme/web",
        "kind": "implementation",
        "iteration": 1,
        "runner_mode": "github-actions",
        "session_image": "ghcr.io/acme/session:1",
        "status": "dispatched",
        "dispatch_name": "eng-1-implementation-1",
    }
    return await store.append_dispatch_log(**(fields | overrides))


async def test_an_appended_entry_comes_back_whole_with_its_id(store: Store) -> None:
    appended = await log_dispatch(store, kind="gap-fill", iteration=2, message="from the trigger")

    [listed] = await store.recent_dispatch_log()

    assert listed == appended
    assert listed.id > 0
    assert listed.kind == "gap-fill"
    assert listed.iteration == 2
    assert listed.created_at == T0
    assert listed.pull_request_url is None
    assert listed.message == "from the trigger"


async def test_the_log_lists_newest_first_and_only_as_many_as_asked(store: Store) -> None:
    for minute in (5, 1, 3):
        await log_dispatch(store, now=T0 + timedelta(minutes=minute), identifier=f"ENG-{minute}")

    recent = await store.recent_dispatch_log(limit=2)

    assert [entry.identifier for entry in recent] == ["ENG-5", "ENG-3"]


async def test_a_trend_reads_every_outcome_since_a_moment_beyond_one_page(store: Store) -> None:
    """More runs in a day than a page of the log holds (500) are all counted, oldest first."""
    for n in range(DISPATCH_LOG_PAGE + 20):
        status = "failed" if n % 10 == 0 else "succeeded"
        await log_dispatch(store, now=T0 + timedelta(seconds=n), status=status, dispatch_name=f"eng-{n}")
    await log_dispatch(store, now=T0 - timedelta(hours=1), status="failed", dispatch_name="eng-earlier")

    outcomes = await store.dispatch_outcomes_since(T0)
    failed = await store.dispatch_log_since(T0, {"failed", "timed-out"}, limit=3)

    assert len(outcomes) == DISPATCH_LOG_PAGE + 20
    assert outcomes[0] == (T0, "failed")
    assert [entry.dispatch_name for entry in failed] == ["eng-510", "eng-500", "eng-490"]


async def test_entries_logged_at_the_same_moment_list_the_later_append_first(store: Store) -> None:
    await log_dispatch(store, kind="planning")
    await log_dispatch(store, kind="implementation")

    assert [entry.kind for entry in await store.recent_dispatch_log()] == ["implementation", "planning"]


async def test_a_status_update_reaches_the_entry_of_that_dispatch_only(store: Store) -> None:
    await log_dispatch(store, dispatch_name="eng-1-planning-1", kind="planning")
    await log_dispatch(store, dispatch_name="eng-1-implementation-1")

    updated = await store.update_dispatch_status(
        "eng-1-implementation-1", "succeeded", pull_request_url="https://github.com/acme/web/pull/7"
    )

    assert updated is True
    by_name = {entry.dispatch_name: entry for entry in await store.recent_dispatch_log()}
    assert by_name["eng-1-implementation-1"].status == "succeeded"
    assert by_name["eng-1-implementation-1"].pull_request_url == "https://github.com/acme/web/pull/7"
    assert by_name["eng-1-planning-1"].status == "dispatched"


async def test_a_later_update_without_a_pull_request_keeps_the_one_logged(store: Store) -> None:
    await log_dispatch(store)
    await store.update_dispatch_status("eng-1-implementation-1", "running", pull_request_url="https://pr/7")

    await store.update_dispatch_status("eng-1-implementation-1", "failed", message="tests failed")

    [entry] = await store.recent_dispatch_log()
    assert (entry.status, entry.pull_request_url, entry.message) == ("failed", "https://pr/7", "tests failed")


async def test_updating_a_dispatch_that_was_never_logged_says_so(store: Store) -> None:
    assert await store.update_dispatch_status("eng-9-review-2", "running") is False


async def test_the_steps_and_finishing_time_of_a_run_outlive_its_resource(store: Store) -> None:
    await log_dispatch(store)
    steps = [{"name": "plan", "status": "succeeded"}, {"name": "implement", "status": "failed", "message": "boom"}]
    finished = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

    await store.update_dispatch_status("eng-1-implementation-1", "failed", steps=steps, finished_at=finished)
    await store.update_dispatch_status("eng-1-implementation-1", "failed", message="later")

    [entry] = await store.recent_dispatch_log()
    assert [dict(step) for step in entry.steps] == steps
    assert entry.finished_at == finished


async def test_what_the_agent_used_is_kept_and_summed_per_pull_request(store: Store) -> None:
    pull = "https://github.com/acme/web/pull/7"
    await log_dispatch(store)
    await log_dispatch(store, dispatch_name="eng-1-review-2", kind="review", iteration=2)
    await log_dispatch(store, dispatch_name="eng-2-implementation-1", identifier="ENG-2", issue_id="issue-2")
    first = Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=5000, cost_usd=0.05, model="m-1")
    second = Usage(input_tokens=500, output_tokens=100, cache_creation_tokens=70, cost_usd=0.025, model="m-2")

    await store.update_dispatch_status("eng-1-implementation-1", "succeeded", pull_request_url=pull, usage=first)
    await store.update_dispatch_status("eng-1-review-2", "succeeded", pull_request_url=pull, usage=second)
    await store.update_dispatch_status("eng-2-implementation-1", "failed")

    entries = {entry.dispatch_name: entry for entry in await store.recent_dispatch_log()}
    assert entries["eng-1-implementation-1"].usage == first
    assert entries["eng-2-implementation-1"].usage is None, "a run that reported nothing has no usage"
    totals = await store.usage_of_pull_requests([pull, "https://github.com/acme/web/pull/99"])
    assert totals == {
        pull: Usage(
            input_tokens=1500,
            output_tokens=300,
            cache_read_tokens=5000,
            cache_creation_tokens=70,
            cost_usd=0.075,
            model=None,
        )
    }
