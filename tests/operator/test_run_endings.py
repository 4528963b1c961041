"""Every way a run can end besides success: failure, silence, the deadline, a dying runner; and shadow runs.

The simulated runner follows a script per ticket; the operator's fake clock is moved past the
limits, and the Dispatch is queued at once instead of waiting for its timer in real time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from controller.clock import kube_timestamp, utc_now
from controller.kube import DISPATCHES, RUNNER_SESSIONS, apply_conditions
from controller.kube.errors import NotFoundError
from controller.operator.runtime import OperatorRuntime
from controller.sandbox import LinearSandbox
from controller.sandbox.runner import Ending, RunScript
from tests.operator.conftest import apply_mapping, cached
from tests.operator.run_fixtures import RunLoop
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

NAME = "eng-1-implementation-1"


async def run_ticket(
    loop: RunLoop,
    linear: LinearSandbox,
    *,
    script: RunScript | None = None,
    mode: str = "fly-machines",
    capacity: dict[str, Any] | None = None,
    **env: str,
) -> OperatorRuntime:
    loop.add_repo("eng")
    await apply_mapping(
        loop.kube,
        loop.namespace,
        "ENG",
        planning={"enabled": False},
        runner={"executionMode": mode},
        capacity=capacity or {},
    )
    linear.add_issue("ENG", "Add dark mode", labels=["AI-Implement"])
    if script is not None:
        loop.runner.scripts["ENG-1"] = script
    runtime = await loop.operator(**env)
    await cached(runtime, "eng")
    await loop.lead(runtime)
    return runtime


async def dispatch(loop: RunLoop) -> dict[str, Any]:
    try:
        found: dict[str, Any] = await loop.kube.get(DISPATCHES, loop.namespace, NAME)
    except NotFoundError:
        return {}
    return found


async def step_running(loop: RunLoop, step: str) -> None:
    async def reported() -> bool:
        steps = ((await dispatch(loop)).get("status") or {}).get("steps") or []
        return {"name": step, "status": "running"}.items() <= next(
            (s.items() for s in steps if s["name"] == step), {}.items()
        )

    await eventually(reported, within=20)


async def session_status(loop: RunLoop) -> dict[str, Any]:
    try:
        session = await loop.kube.get(RUNNER_SESSIONS, loop.namespace, NAME)
    except NotFoundError:
        return {}
    status: dict[str, Any] = session.get("status") or {}
    return status


def comment(linear: LinearSandbox) -> str:
    [only] = linear.comments_on("ENG-1")
    return only.body


async def test_a_failed_run_says_where_it_failed_releases_the_ticket_and_tells_teams(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    script = RunScript(ending=Ending.FAIL, fail_at="test", message="2 of 40 tests failed in auth.spec.ts")
    teams = loop.chat.add_teams_workflow()

    await run_ticket(loop, linear, script=script, NOTIFY_TYPE="teams", NOTIFY_WEBHOOK_URL=teams)
    status = await loop.until_closed(NAME)

    assert status["phase"] == "Failed"
    assert status["error"] == {"reason": "RunnerFailed", "message": script.message}
    assert "in step `test`" in comment(linear)
    assert script.message in comment(linear)
    assert "AI-Working" not in linear.labels_of("ENG-1")
    [message] = loop.chat.teams_messages
    assert "ENG-1" in message.text
    assert script.message in message.text
    [entry] = await loop.api.context.store.recent_dispatch_log()
    assert (entry.status, entry.message) == ("failed", f"RunnerFailed: {script.message}")


async def test_a_run_that_falls_silent_is_stopped_as_stalled_and_its_machine_destroyed(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    runtime = await run_ticket(loop, linear, script=RunScript(ending=Ending.HANG, fail_at="implement"))
    await step_running(loop, "implement")

    async def mirrored() -> bool:
        status = await session_status(loop)
        return status.get("state") == "started" and status.get("uptimeSeconds") is not None

    await eventually(mirrored, within=10)
    machine_id = (await dispatch(loop))["status"]["runner"]["id"]
    operator_clock.advance(timedelta(minutes=21))
    runtime.dispatch_wakeups.poke(NAME)
    status = await loop.until_closed(NAME)

    assert (status["phase"], status["error"]["reason"]) == ("TimedOut", "Stalled")
    assert "sent no progress for 20 min" in comment(linear)
    assert "in step `implement`" in comment(linear)
    await eventually(lambda: loop.fly.machine(machine_id).state == "destroyed", within=10)


async def test_a_run_past_max_job_minutes_is_stopped_and_its_workflow_run_cancelled(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    runtime = await run_ticket(
        loop,
        linear,
        script=RunScript(ending=Ending.HANG, fail_at="implement"),
        mode="github-actions",
        capacity={"maxJobMinutes": 5},
        RUNNER_PROGRESS_TIMEOUT_MINUTES="60",
    )
    await step_running(loop, "implement")
    operator_clock.advance(timedelta(minutes=6))
    runtime.dispatch_wakeups.poke(NAME)
    status = await loop.until_closed(NAME)

    assert (status["phase"], status["error"]["reason"]) == ("TimedOut", "TimedOut")
    assert "maxJobMinutes (5 min)" in comment(linear)
    [run] = loop.github.runs.values()
    await eventually(lambda: run.conclusion == "cancelled", within=10)


async def test_a_runner_that_dies_without_a_result_fails_the_run_after_a_grace(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    runtime = await run_ticket(loop, linear, script=RunScript(ending=Ending.CRASH, fail_at="implement"), mode="local")

    async def noticed() -> bool:
        """The Dispatch knows its runner ended (stamped on the operator's clock, before it moves on)."""
        return ((await dispatch(loop)).get("status") or {}).get("runnerEndedAt") is not None

    await eventually(noticed, within=15)
    assert (await session_status(loop)).get("finishedAt") is not None
    assert (await dispatch(loop))["status"]["phase"] == "Running"
    operator_clock.advance(timedelta(minutes=3))
    runtime.dispatch_wakeups.poke(NAME)
    status = await loop.until_closed(NAME)

    assert (status["phase"], status["error"]["reason"]) == ("Failed", "RunnerExited")
    assert "without reporting a result" in comment(linear)


@pytest.mark.parametrize(("exit_code", "outcome"), [(0, "Succeeded"), (1, "Failed")])
async def test_a_shadow_run_is_recorded_but_never_decides(
    loop: RunLoop, linear: LinearSandbox, exit_code: int, outcome: str
) -> None:
    loop.runner.shadow_exit_code = exit_code

    await run_ticket(loop, linear, mode="github-actions", RUNNER_MODE="shadow")
    status = await loop.until_closed(NAME)
    theirs = {"type": "Audited", "status": "True", "reason": "Checked", "message": "m"}
    theirs["lastTransitionTime"] = kube_timestamp(utc_now())
    await apply_conditions(loop.kube, DISPATCHES, loop.namespace, NAME, [theirs], "another-writer")

    assert status["phase"] == "Succeeded"
    assert status["runner"]["backend"] == "github-actions"
    assert status["shadow"]["backend"] == "fly-machines"
    [machine] = loop.fly.machines_of("ai-implement-sessions")
    assert machine.config["env"]["AI_IMPLEMENT_SHADOW"] == "1"
    assert not any(value.startswith("eyJ") for value in machine.config["env"].values())

    async def shadow_recorded() -> dict[str, Any] | None:
        conditions = (await dispatch(loop))["status"].get("conditions") or []
        return next((c for c in conditions if c["type"] == "ShadowRunFinished"), None)

    try:
        await eventually(shadow_recorded, within=15)
    except TimeoutError:
        raise AssertionError(str((await dispatch(loop))["status"])) from None
    condition = await shadow_recorded()
    assert condition is not None
    assert condition["reason"] == outcome
    assert f"exit code {exit_code}" in condition["message"]
    final = (await dispatch(loop))["status"]
    assert final["phase"] == "Succeeded"
    assert {c["type"] for c in final["conditions"]} == {"Audited", "ShadowRunFinished"}, "no writer replaces another's"


async def test_a_session_deleted_by_hand_destroys_its_machine_and_fails_the_run_after_a_grace(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    runtime = await run_ticket(loop, linear, script=RunScript(ending=Ending.HANG, fail_at="implement"))
    await step_running(loop, "implement")
    machine_id = (await dispatch(loop))["status"]["runner"]["id"]

    await loop.kube.delete(RUNNER_SESSIONS, loop.namespace, NAME)

    async def ended() -> bool:
        return bool((await dispatch(loop))["status"].get("runnerEndedAt"))

    await eventually(ended, within=15)
    assert loop.fly.machine(machine_id).state == "destroyed"
    operator_clock.advance(timedelta(minutes=3))
    runtime.dispatch_wakeups.poke(NAME)
    status = await loop.until_closed(NAME)
    assert (status["phase"], status["error"]["reason"]) == ("Failed", "RunnerExited")
