"""The real runner program, end to end: every kind of run, on every backend, with real git.

The operator, API, store and API server are real; each backend sandbox starts the runner program
(`python -m controller.runner`) as its platform would, with the fake agent as the coding agent
(the one double, at the process border). The runner clones the GitHub sandbox's repository over
git's smart HTTP protocol with the repository token the controller minted for it, commits, pushes,
opens the pull request and reports through the real callbacks.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.github.trigger_secrets import repository_trigger_secret
from controller.kube import DISPATCHES
from controller.operator.reviews.feedback import BATCH_WINDOW
from controller.operator.runtime import OperatorRuntime
from controller.sandbox import LinearSandbox
from tests.operator.conftest import apply_mapping, cached
from tests.operator.run_fixtures import GAP_FILL_SECRET, OWNER, RunLoop
from tests.operator.test_sessions import census, requested_and_carried_out
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

IMPLEMENTATION_STEPS = ["checkout", "gather-ticket", "implement", "run-checks", "commit", "push", "open-pull-request"]
DESCRIPTION = "Add a dark theme.\n\nfake-agent: write src/theme.css body { background: black }\n"


async def implementation_run(
    loop: RunLoop,
    linear: LinearSandbox,
    *,
    execution_mode: str = "github-actions",
    description: str = DESCRIPTION,
    planning: bool = False,
    files: dict[str, str] | None = None,
    **env: str,
) -> OperatorRuntime:
    loop.add_repo("eng")
    if files:
        loop.github.commit_files(OWNER, "eng", "main", files)
    await apply_mapping(
        loop.kube,
        loop.namespace,
        "ENG",
        planning={"enabled": planning},
        runner={"executionMode": execution_mode},
    )
    linear.add_issue("ENG", "Add dark mode", description=description, labels=["AI-Implement"])
    runtime = await loop.operator(**env)
    await cached(runtime, "eng")
    await loop.lead(runtime)
    return runtime


def steps_of(status: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["name"], step["status"]) for step in status["steps"]]


@pytest.mark.parametrize("execution_mode", ["github-actions", "fly-machines", "local"])
async def test_an_implementation_run_pushes_a_real_commit_and_opens_its_pull_request(
    real_loop: RunLoop, linear: LinearSandbox, execution_mode: str
) -> None:
    await implementation_run(real_loop, linear, execution_mode=execution_mode)

    status = await real_loop.until_closed("eng-1-implementation-1", within=90)

    assert status["phase"] == "Succeeded", (status.get("error"), _output(real_loop))
    assert steps_of(status) == [
        (step, "skipped" if step == "run-checks" else "succeeded") for step in IMPLEMENTATION_STEPS
    ]
    branch = "ai-implement/eng-1-implementation-1"
    assert real_loop.github.file_text(OWNER, "eng", "src/theme.css", ref=branch) == "body { background: black }\n"
    assert real_loop.github.file_text(OWNER, "eng", "src/theme.css") is None, "nothing lands on main"
    pull = real_loop.github.repo(OWNER, "eng").pulls[1]
    assert (pull.head, pull.base) == (branch, "main")
    assert status["pullRequest"]["url"].endswith("/pull/1")
    usage = status["result"]["usage"]
    assert usage["costUsd"] > 0
    assert usage["outputTokens"] > 0
    [comment] = linear.comments_on("ENG-1")
    assert status["pullRequest"]["url"] in comment.body
    run_tokens = [token for token in real_loop.github.tokens.values() if "workflows" not in token.permissions]
    assert [(token.repositories, token.permissions) for token in run_tokens] == [
        (frozenset({"eng"}), {"contents": "write", "pull_requests": "write", "metadata": "read"})
    ], "the run worked with a token of its one repository, without the workflows permission"


@pytest.mark.parametrize("execution_mode", ["github-actions", "fly-machines", "local"])
async def test_a_planning_run_posts_its_plan_and_the_implementation_works_from_it(
    real_loop: RunLoop, linear: LinearSandbox, execution_mode: str
) -> None:
    # the implementation is dispatched by the poll after the planning run: poll every second
    await implementation_run(real_loop, linear, planning=True, execution_mode=execution_mode, POLL_INTERVAL_MS="1000")

    status = await real_loop.until_closed("eng-1-planning-1", within=90)

    assert status["phase"] == "Succeeded", (status.get("error"), _output(real_loop))
    assert steps_of(status) == [("checkout", "succeeded"), ("gather-ticket", "succeeded"), ("plan", "succeeded")]
    assert status["result"]["summary"].startswith("## Plan for ENG-1: Add dark mode")
    [comment] = linear.comments_on("ENG-1")
    assert "## Plan for ENG-1: Add dark mode" in comment.body
    logged = await real_loop.api.context.store.dispatch_log_for_issues([linear.issue("ENG-1").id])
    [entry] = [entry for entry in logged if entry.kind == "planning"]
    assert entry.summary == status["result"]["summary"]
    assert "pullRequest" not in status, "a planning run opens no pull request"
    implementation = await real_loop.until_closed("eng-1-implementation-1", within=90)
    gathered = next(step for step in implementation["steps"] if step["name"] == "gather-ticket")
    assert gathered["output"]["plan"] is True, "the implementation run's brief carried the approved plan"


async def test_a_failing_check_is_reported_with_its_step_and_output(real_loop: RunLoop, linear: LinearSandbox) -> None:
    workflow = "---\nmodel: claude-sonnet-4-5\nchecks:\n  - echo 'two tests failed' && exit 3\n---\n\nDo it.\n"
    await implementation_run(real_loop, linear, files={"WORKFLOW.md": workflow})

    status = await real_loop.until_closed("eng-1-implementation-1", within=90)

    assert status["phase"] == "Failed"
    assert ("run-checks", "failed") in steps_of(status)
    assert status["error"]["reason"] == "ChecksFailed"
    assert "step `run-checks`" in status["error"]["message"]
    assert "two tests failed" in status["error"]["message"]
    [comment] = linear.comments_on("ENG-1")
    assert "run-checks" in comment.body
    assert not real_loop.github.repo(OWNER, "eng").pulls


async def test_sigterm_in_the_middle_of_implementation_saves_the_work_to_a_wip_branch(
    real_loop: RunLoop, linear: LinearSandbox
) -> None:
    assert real_loop.processes is not None
    # the agent edits, then keeps working
    real_loop.processes.ticket_environment["ENG-1"] = {"FAKE_AGENT_ENDING": "hang"}
    await implementation_run(real_loop, linear, execution_mode="local")
    process = await _process_of(real_loop, "eng-1-implementation-1")

    async def edited() -> bool:
        return (process.workdir / "checkout" / "src" / "theme.css").exists()

    await eventually(edited, within=60)
    assert process.pid is not None
    os.kill(process.pid, signal.SIGTERM)

    status = await real_loop.until_closed("eng-1-implementation-1", within=90)
    wip = "ai-implement/wip/eng-1-implementation-1"
    assert real_loop.github.file_text(OWNER, "eng", "src/theme.css", ref=wip) == "body { background: black }\n"
    assert status["phase"] == "Failed"
    assert status["result"]["workInProgressBranch"] == wip
    assert status["error"]["reason"] == "Stopped"
    assert ("implement", "failed") in steps_of(status)
    [comment] = linear.comments_on("ENG-1")
    assert wip in comment.body


async def test_a_session_destroyed_from_the_sessions_panel_saves_the_work_and_the_ticket_links_it(
    real_loop: RunLoop, linear: LinearSandbox
) -> None:
    assert real_loop.processes is not None
    real_loop.processes.ticket_environment["ENG-1"] = {"FAKE_AGENT_ENDING": "hang"}
    runtime = await implementation_run(real_loop, linear, execution_mode="local", RUNNER_STOP_GRACE_SECONDS="60")
    process = await _process_of(real_loop, "eng-1-implementation-1")

    async def edited() -> bool:
        return (process.workdir / "checkout" / "src" / "theme.css").exists()

    await eventually(edited, within=60)
    await census(runtime)
    headers = await real_loop.api.login()
    rows = (await (await real_loop.api.client.get("/api/sessions", headers=headers)).json())["sessions"]
    [machine_id] = [row["machineId"] for row in rows if row["dispatch"] == "eng-1-implementation-1"]
    await requested_and_carried_out(real_loop, runtime, machine_id)

    try:
        status = await real_loop.until_closed("eng-1-implementation-1", within=90)
    except TimeoutError:
        dispatch = await real_loop.kube.get(DISPATCHES, real_loop.namespace, "eng-1-implementation-1")
        raise AssertionError((dispatch.get("status"), _output(real_loop))) from None
    wip = "ai-implement/wip/eng-1-implementation-1"
    assert (status["phase"], status["error"]["reason"]) == ("Cancelled", "SessionDestroyed")
    assert status["result"]["workInProgressBranch"] == wip
    assert real_loop.github.file_text(OWNER, "eng", "src/theme.css", ref=wip) == "body { background: black }\n"
    [comment] = linear.comments_on("ENG-1")
    assert "was cancelled" in comment.body
    assert wip in comment.body


async def test_a_custom_pipeline_and_a_custom_step_take_effect(
    real_loop: RunLoop, linear: LinearSandbox, tmp_path: Path
) -> None:
    custom = tmp_path / "custom"
    (custom / "pipelines").mkdir(parents=True)
    (custom / "steps").mkdir()
    (custom / "pipelines" / "implementation.yml").write_text(
        "description: ours\nsteps: [checkout, gather-ticket, implement, stamp, commit, push, open-pull-request]\n"
    )
    (custom / "steps" / "stamp.py").write_text(
        "from controller.runner.step import StepContext, StepResult\n\n\n"
        "async def run(context: StepContext) -> StepResult:\n"
        "    (context.workspace / 'STAMP').write_text(context.job.dispatch)\n"
        "    return StepResult(message='stamped', output={'file': 'STAMP'})\n"
    )
    assert real_loop.processes is not None
    real_loop.processes.environment["AI_IMPLEMENT_CUSTOM_DIR"] = str(custom)
    await implementation_run(real_loop, linear, execution_mode="local")

    status = await real_loop.until_closed("eng-1-implementation-1", within=90)

    assert status["phase"] == "Succeeded", (status.get("error"), _output(real_loop))
    assert ("stamp", "succeeded") in steps_of(status)
    assert "run-checks" not in [name for name, _ in steps_of(status)]
    branch = "ai-implement/eng-1-implementation-1"
    assert real_loop.github.file_text(OWNER, "eng", "STAMP", ref=branch) == "eng-1-implementation-1"


async def test_a_review_run_answers_the_feedback_on_the_pull_requests_branch(
    real_loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    runtime = await implementation_run(real_loop, linear)
    assert (await real_loop.until_closed("eng-1-implementation-1", within=90))["phase"] == "Succeeded"
    branch = "ai-implement/eng-1-implementation-1"
    real_loop.github.submit_review(
        OWNER,
        "eng",
        1,
        "CHANGES_REQUESTED",
        "Darker, please.\nfake-agent: write src/theme.css body { background: #000 }",
    )
    assert all(attempt.status in (200, 202) for attempt in await real_loop.github.flush_webhooks())
    operator_clock.advance(BATCH_WINDOW + timedelta(seconds=1))
    assert await runtime.reviews.process_waiting() == ["eng-1-review-2"]

    status = await real_loop.until_closed("eng-1-review-2", within=90)

    assert status["phase"] == "Succeeded", (status.get("error"), _output(real_loop))
    assert [name for name, _ in steps_of(status)] == [
        "checkout",
        "gather-ticket",
        "address-review",
        "run-checks",
        "commit",
        "push",
        "comment",
    ]
    assert real_loop.github.file_text(OWNER, "eng", "src/theme.css", ref=branch) == "body { background: #000 }\n"
    [comment] = real_loop.github.repo(OWNER, "eng").comments[1]
    assert "eng-1-review-2" in comment.body
    assert status["pullRequest"]["number"] == 1


async def test_a_gap_fill_run_works_from_the_ticket_as_it_is_now(real_loop: RunLoop, linear: LinearSandbox) -> None:
    await implementation_run(real_loop, linear)
    assert (await real_loop.until_closed("eng-1-implementation-1", within=90))["phase"] == "Succeeded"
    linear.issue("ENG-1").description = DESCRIPTION + "fake-agent: write docs/theme.md How to switch themes\n"
    made = real_loop.github.add_issue_comment(OWNER, "eng", 1, "/ai-implement the docs are missing", user="ada")
    trigger = {
        "repository": "acme/eng",
        "pullRequestNumber": 1,
        "commentId": made["id"],
        "commentBody": "/ai-implement the docs are missing",
        "sender": "ada",
    }
    bearer = repository_trigger_secret(GAP_FILL_SECRET, "acme/eng")
    answer = await real_loop.api.client.post(
        "/trigger/gap-fill", json=trigger, headers={"Authorization": f"Bearer {bearer}"}
    )
    assert answer.status == 202, await answer.text()

    status = await real_loop.until_closed("eng-1-gap-fill-1", within=90)

    assert status["phase"] == "Succeeded", (status.get("error"), _output(real_loop))
    assert ("push", "succeeded") in steps_of(status)
    branch = "ai-implement/eng-1-implementation-1"
    assert real_loop.github.file_text(OWNER, "eng", "docs/theme.md", ref=branch) == "How to switch themes\n"
    assert "eng-1-gap-fill-1" in real_loop.github.repo(OWNER, "eng").comments[1][-1].body


async def _process_of(loop: RunLoop, dispatch: str) -> Any:
    assert loop.processes is not None
    processes = loop.processes

    async def started() -> bool:
        return bool(processes.processes_of(dispatch))

    await eventually(started, within=60)
    return processes.processes_of(dispatch)[0]


def _output(loop: RunLoop) -> str:
    if loop.processes is None:
        return ""
    return "\n---\n".join(process.output[-3000:] for process in loop.processes.processes)
