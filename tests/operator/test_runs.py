"""From ticket to finished run, end to end, on every backend: the real operator, API, store and API server.

The backends are the GitHub, Fly and Docker sandboxes; the simulated runner plays each run they
start through the real callbacks. Each test watches what users would: the Dispatch's phase and
steps, the pull request, the ticket's comment and marker, the dispatch log and the chat message.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from controller.kube import DISPATCHES, PROJECT_MAPPINGS, RUNNER_SESSIONS
from controller.sandbox import LinearSandbox
from controller.sandbox.runner import PIPELINES
from controller.secrets import KubernetesSecretBackend
from tests.operator.conftest import apply_mapping, cached
from tests.operator.run_fixtures import RunLoop
from tests.support.waiting import eventually

NAME = "eng-1-implementation-1"


async def no_sessions_left(loop: RunLoop) -> None:
    async def gone() -> bool:
        return not (await loop.kube.list(RUNNER_SESSIONS, loop.namespace)).items

    await eventually(gone, within=20)


async def started_run(
    loop: RunLoop, linear: LinearSandbox, *, execution_mode: str = "github-actions", **env: str
) -> dict[str, Any]:
    loop.add_repo("eng")
    await apply_mapping(
        loop.kube, loop.namespace, "ENG", planning={"enabled": False}, runner={"executionMode": execution_mode}
    )
    linear.add_issue("ENG", "Add dark mode", labels=["AI-Implement"])
    runtime = await loop.operator(**env)
    await cached(runtime, "eng")
    await loop.lead(runtime)
    return await loop.until_closed(NAME)


def assert_succeeded_with_every_step(status: dict[str, Any]) -> None:
    assert status["phase"] == "Succeeded", status.get("error")
    assert [(step["name"], step["status"]) for step in status["steps"]] == [
        (step, "succeeded") for step in PIPELINES["implementation"]
    ]
    assert "/pull/" in status["pullRequest"]["url"]
    assert status["notifiedAt"]
    assert status["finishedAt"]


COST = ("ai_implement_agent_cost_usd_total", {"team": "ENG", "kind": "implementation"})
OUTPUT_TOKENS = ("ai_implement_agent_tokens_total", {"team": "ENG", "kind": "implementation", "type": "output"})


def counted(sample: tuple[str, dict[str, str]]) -> float:
    return REGISTRY.get_sample_value(*sample) or 0.0


async def assert_usage_recorded(loop: RunLoop) -> None:
    """The agent's tokens and cost land in the log, the job's steps, the pull request and the metrics."""
    expected = {
        "inputTokens": 12_000,
        "outputTokens": 3_400,
        "cacheReadTokens": 48_000,
        "cacheCreationTokens": 6_000,
        "costUsd": 0.4215,
        "model": "claude-sonnet-4-5",
    }
    headers = await loop.api.login()
    [job] = (await (await loop.api.client.get("/api/log", headers=headers)).json())["jobs"]
    assert (job["usage"], job["dispatches"][0]["usage"]) == (expected, expected)
    steps = await (await loop.api.client.get(f"/api/jobs/{NAME}/steps", headers=headers)).json()
    assert steps["usage"] == expected
    [pull] = (await (await loop.api.client.get("/api/pulls", headers=headers)).json())["pulls"]
    assert pull["usage"] == expected


async def assert_told_everyone(loop: RunLoop, linear: LinearSandbox, status: dict[str, Any]) -> None:
    pull_request = status["pullRequest"]["url"]
    [comment] = [c.body for c in linear.comments_on("ENG-1")]
    assert pull_request in comment
    assert NAME in comment
    [entry] = await loop.api.context.store.recent_dispatch_log()
    assert (entry.status, entry.pull_request_url) == ("succeeded", pull_request)
    assert [step["name"] for step in entry.steps] == list(PIPELINES["implementation"])
    [message] = loop.chat.slack_messages
    assert "ENG-1" in message.text
    assert pull_request.split("/")[-1] in message.text


async def test_a_ticket_runs_on_github_actions_and_ends_with_a_pull_request(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    cost_before, tokens_before = counted(COST), counted(OUTPUT_TOKENS)
    status = await started_run(loop, linear)

    assert_succeeded_with_every_step(status)
    await assert_told_everyone(loop, linear, status)
    assert round(counted(COST) - cost_before, 6) == 0.4215, "the run's cost is counted once"
    assert counted(OUTPUT_TOKENS) - tokens_before == 3_400

    async def released() -> bool:
        return not (await loop.kube.get(DISPATCHES, loop.namespace, NAME))["metadata"].get("finalizers")

    await eventually(released)  # kopf's finalizer is on an open Dispatch only
    [run] = loop.github.runs.values()
    assert run.conclusion == "success"
    assert status["runner"]["id"].endswith(f"/{run.id}")
    assert not any(value.startswith("eyJ") for value in run.inputs.values()), "no token may travel in inputs"
    [simulated] = loop.runner.runs
    assert (simulated.credentials_status, simulated.result_status) == (200, 200)
    await assert_usage_recorded(loop)
    assert "AI-Working" in linear.labels_of("ENG-1")
    [pull] = await loop.api.context.store.tracked_pull_requests()
    assert (pull.url, pull.identifier, pull.job_status, pull.iteration, pull.state) == (
        status["pullRequest"]["url"],
        "ENG-1",
        "completed",
        1,
        "open",
    )
    await no_sessions_left(loop)


@pytest.mark.parametrize("mode", ["fly-machines", "local"])
async def test_a_ticket_runs_on_a_machine_or_container_and_ends_with_a_pull_request(
    loop: RunLoop, linear: LinearSandbox, mode: str
) -> None:
    status = await started_run(loop, linear, execution_mode=mode)

    assert_succeeded_with_every_step(status)
    await assert_told_everyone(loop, linear, status)
    assert status["runner"]["backend"] == mode
    await no_sessions_left(loop)


@pytest.mark.parametrize("mode", ["fly-machines", "local"])
async def test_runs_receive_the_teams_and_global_secrets_but_never_in_a_readable_config(
    loop: RunLoop, linear: LinearSandbox, mode: str
) -> None:
    secrets = KubernetesSecretBackend(loop.kube, loop.namespace)
    await secrets.set_secret("ENG_MY_TOKEN", "team-secret-value")
    await secrets.set_secret("SHARED_TOKEN", "global-secret-value")
    await secrets.set_secret("OPS_OTHER", "another-teams-secret")
    await apply_mapping(loop.kube, loop.namespace, "OPS")

    status = await started_run(loop, linear, execution_mode=mode)  # SECRETS_BACKEND auto, with Fly configured

    assert status["phase"] == "Succeeded"
    [run] = loop.runner.runs
    wanted = {"MY_TOKEN": "team-secret-value", "SHARED_TOKEN": "global-secret-value"}
    if mode == "local":
        container_environment = run.started.environment
        assert wanted.items() <= container_environment.items()
        assert "OTHER" not in container_environment
    else:
        assert wanted | {"ANTHROPIC_API_KEY": "sk-ant-api03-runLoopSandboxKey"} == run.received_environment
        [machine] = loop.fly.machines_of("ai-implement-sessions")
        assert not set(wanted.values()) & set(machine.config["env"].values())


async def test_a_bedrock_mapping_stays_off_fly_machines_when_the_runner_mode_sends_every_run_there(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    """RUNNER_MODE=fly would give a Bedrock run no AWS credentials: it keeps its own mode, and says so."""
    loop.add_repo("eng")
    bedrock = {"name": "bedrock", "awsRegion": "eu-west-1"}
    await apply_mapping(loop.kube, loop.namespace, "ENG", planning={"enabled": False}, provider=bedrock)
    linear.add_issue("ENG", "Add dark mode", labels=["AI-Implement"])
    runtime = await loop.operator(RUNNER_MODE="fly")
    await cached(runtime, "eng")
    await loop.lead(runtime)

    status = await loop.until_closed(NAME)
    dispatch = await loop.kube.get(DISPATCHES, loop.namespace, NAME)

    assert status["phase"] == "Succeeded", status.get("error")
    assert dispatch["spec"]["runnerMode"] == "github-actions"
    assert loop.fly.machines_of("ai-implement-sessions") == []

    async def noted() -> bool:
        mapping = await loop.kube.get(PROJECT_MAPPINGS, loop.namespace, "eng")
        return "Bedrock cannot run on Fly Machines" in str((mapping.get("status") or {}).get("effectiveRunnerModeNote"))

    await eventually(noted)
