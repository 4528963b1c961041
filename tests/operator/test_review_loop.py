"""Review feedback on a bot-opened pull request becomes review runs, up to maxIterations, end to end.

The GitHub sandbox delivers signed webhooks to the real API; the operator's review processor is
driven directly after the fake clock passed the batching window.
"""

from __future__ import annotations

from datetime import timedelta

from controller.kube import PROJECT_MAPPINGS
from controller.operator.reviews.feedback import BATCH_WINDOW
from controller.operator.runtime import OperatorRuntime
from controller.resources import ProjectMappingSpec
from controller.sandbox import LinearSandbox
from controller.workflows import WorkflowSync
from tests.operator.conftest import apply_mapping, cached
from tests.operator.run_fixtures import OWNER, RunLoop
from tests.support.clock import FakeClock
from tests.support.waiting import eventually


async def implemented(loop: RunLoop, linear: LinearSandbox, **capacity: int) -> OperatorRuntime:
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG", planning={"enabled": False}, capacity=capacity)
    linear.add_issue("ENG", "Add dark mode", labels=["AI-Implement"])
    runtime = await loop.operator()
    await cached(runtime, "eng")
    await loop.lead(runtime)
    status = await loop.until_closed("eng-1-implementation-1")
    assert status["phase"] == "Succeeded"
    return runtime


async def review(loop: RunLoop, clock: FakeClock, runtime: OperatorRuntime, *comments: str) -> list[str]:
    """Request changes with a review and a few comments at once, then let the window pass."""
    loop.github.submit_review(OWNER, "eng", 1, "CHANGES_REQUESTED", "Please rename the toggle")
    for text in comments:
        loop.github.add_issue_comment(OWNER, "eng", 1, text)
    attempts = await loop.github.flush_webhooks()
    assert all(attempt.status in (200, 202) for attempt in attempts), attempts
    assert await runtime.reviews.process_waiting() == [], "feedback waits for the batching window"
    clock.advance(BATCH_WINDOW + timedelta(seconds=1))
    return await runtime.reviews.process_waiting()


async def test_feedback_that_arrives_together_makes_one_review_run_on_the_same_pull_request(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    runtime = await implemented(loop, linear)

    created = await review(loop, operator_clock, runtime, "And the docs", "Also the tests")

    assert created == ["eng-1-review-2"]
    status = await loop.until_closed("eng-1-review-2")
    assert status["phase"] == "Succeeded"
    assert status["pullRequest"]["number"] == 1
    [pull] = await loop.api.context.store.tracked_pull_requests()
    assert (pull.number, pull.iteration, pull.job_status) == (1, 2, "completed")
    taken = await loop.api.context.store.review_feedback_of("eng-1-review-2")
    assert [item.kind for item in taken] == ["review", "comment", "comment"]
    assert "AI-Working" in linear.labels_of("ENG-1"), "the pull request carries the work on"


async def test_feedback_beyond_max_iterations_fails_the_review_and_tells_people(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    runtime = await implemented(loop, linear, maxIterations=2)
    assert await review(loop, operator_clock, runtime) == ["eng-1-review-2"]
    await loop.until_closed("eng-1-review-2")

    assert await review(loop, operator_clock, runtime) == []

    [pull] = await loop.api.context.store.tracked_pull_requests()
    assert (pull.iteration, pull.job_status) == (2, "review_failed")
    assert any("stopped iterating" in comment.body for comment in linear.comments_on("ENG-1"))
    assert any("ENG-1" in message.text for message in loop.chat.slack_messages[-1:])
    assert "eng-1-review-3" not in [run.started.dispatch_name for run in loop.runner.runs]


async def test_a_merge_completes_the_ticket_and_a_close_releases_it_each_once(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    runtime = await implemented(loop, linear)
    assert "AI-Working" in linear.labels_of("ENG-1")

    loop.github.merge_pull_request(OWNER, "eng", 1)
    await loop.github.flush_webhooks()
    assert await runtime.reviews.process_closed() == 1
    assert await runtime.reviews.process_closed() == 0

    [pull] = await loop.api.context.store.tracked_pull_requests()
    assert (pull.state, pull.job_status) == ("merged", "completed")
    assert "AI-Working" not in linear.labels_of("ENG-1")
    merged = [c.body for c in linear.comments_on("ENG-1") if "was merged" in c.body]
    assert merged == [f"The pull request {pull.url} was merged: AI-Implement's work on this ticket is done."]


async def test_a_pull_request_closed_unmerged_releases_the_ticket(loop: RunLoop, linear: LinearSandbox) -> None:
    runtime = await implemented(loop, linear)

    loop.github.close_pull_request(OWNER, "eng", 1)
    await loop.github.flush_webhooks()
    assert await runtime.reviews.process_closed() == 1

    [pull] = await loop.api.context.store.tracked_pull_requests()
    assert pull.state == "closed"
    assert "AI-Working" not in linear.labels_of("ENG-1")
    assert any("closed without merging" in c.body for c in linear.comments_on("ENG-1"))


async def test_the_mappings_workflows_in_sync_condition_follows_the_repository(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG")
    runtime = await loop.operator()
    await cached(runtime, "eng")

    async def condition() -> tuple[str, str]:
        status = (await loop.kube.get(PROJECT_MAPPINGS, loop.namespace, "eng"))["status"]
        [in_sync] = [c for c in status["conditions"] if c["type"] == "WorkflowsInSync"]
        return status["workflowTemplate"], in_sync["status"]

    assert await runtime.templates.refresh_all() == 1
    assert await condition() == ("missing", "False")
    sync = runtime.templates.reader
    assert isinstance(sync, WorkflowSync)
    result = await sync.sync(
        ProjectMappingSpec.model_validate((await loop.kube.get(PROJECT_MAPPINGS, loop.namespace, "eng"))["spec"])
    )
    assert result.number is not None
    loop.github.merge_pull_request(OWNER, "eng", result.number)
    await cached(runtime, "eng")
    await eventually(lambda: runtime.templates.refresh_all(), within=10)
    assert await condition() == ("current", "True")


async def test_a_replayed_or_forged_delivery_records_nothing_more(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    runtime = await implemented(loop, linear)
    loop.github.submit_review(OWNER, "eng", 1, "CHANGES_REQUESTED", "Please rename the toggle")
    first = (await loop.github.flush_webhooks())[-1]
    delivery = loop.github.webhook_deliveries[-1]

    replay = await loop.github.redeliver(delivery)
    forged = await loop.github.deliver_with_bad_signature(delivery)

    assert (first.status, replay.status, forged.status) == (202, 200, 401)
    assert len(await loop.api.context.store.waiting_review_feedback()) == 1
    operator_clock.advance(BATCH_WINDOW + timedelta(seconds=1))
    assert await runtime.reviews.process_waiting() == ["eng-1-review-2"]
