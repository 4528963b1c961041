"""`kubectl describe` tells the story: Events on Dispatches and ProjectMappings, posted by the real operator."""

from __future__ import annotations

from typing import Any

from controller.kube import EVENTS, KubeClient
from controller.sandbox import LinearSandbox
from controller.sandbox.runner import Ending, RunScript
from tests.operator.run_fixtures import RunLoop
from tests.operator.stories import implement_one_ticket
from tests.support.waiting import eventually


async def events_of(kube: KubeClient, namespace: str, name: str) -> list[dict[str, Any]]:
    listed = await kube.list(EVENTS, namespace, field_selector=f"involvedObject.name={name}")
    # In the order they were written: their timestamps come from the test's clock, which stands still.
    return sorted(listed.items, key=lambda event: int(event["metadata"]["resourceVersion"]))


async def reasons(kube: KubeClient, namespace: str, name: str) -> list[str]:
    return [event["reason"] for event in await events_of(kube, namespace, name)]


async def test_a_run_that_succeeds_is_dispatched_started_and_succeeded_with_its_pull_request(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    status = await implement_one_ticket(loop, linear)

    events = await events_of(loop.kube, loop.namespace, "eng-1-implementation-1")
    assert [(e["type"], e["reason"]) for e in events] == [
        ("Normal", "Dispatched"),
        ("Normal", "Started"),
        ("Normal", "Succeeded"),
    ]
    assert events[0]["message"].startswith("ENG-1 (Add dark mode) dispatched: implementation run, iteration 1")
    assert events[1]["message"].startswith("running on github-actions as ")
    assert events[2]["message"] == f"pull request {status['pullRequest']['url']}"
    involved = events[2]["involvedObject"]
    assert (involved["kind"], involved["apiVersion"]) == ("Dispatch", "ai-implement.dev/v1alpha1")
    assert events[2]["source"]["component"] == "ai-implement-operator"

    await eventually(lambda: _has(loop.kube, loop.namespace, "eng", "Ready"), within=15)


async def _has(kube: KubeClient, namespace: str, name: str, reason: str) -> bool:
    return reason in await reasons(kube, namespace, name)


async def test_a_run_that_fails_says_in_which_step(loop: RunLoop, linear: LinearSandbox) -> None:
    failing = RunScript(ending=Ending.FAIL, fail_at="test", message="2 of 48 tests failed in auth/redirect.spec.ts")
    await implement_one_ticket(loop, linear, "Fix the login loop", failing)

    (failed,) = [
        e for e in await events_of(loop.kube, loop.namespace, "eng-1-implementation-1") if e["type"] == "Warning"
    ]
    assert failed["reason"] == "Failed"
    assert "2 of 48 tests failed in auth/redirect.spec.ts" in failed["message"]
