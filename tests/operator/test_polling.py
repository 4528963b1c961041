"""Tickets in the sandboxes become exactly the expected Dispatches; every blocker holds and shows."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from controller import constants
from controller.kube import DISPATCHES, PROJECT_MAPPINGS, KubeClient
from controller.operator.runtime import OperatorRuntime
from controller.sandbox import Fault, JiraSandbox, LinearSandbox
from tests.operator.conftest import RuntimeFactory, apply_mapping, cached, dispatch_names, finish
from tests.support.clock import FakeClock
from tests.support.waiting import eventually


async def cached_version(runtime: OperatorRuntime, name: str, version: str) -> None:
    """Wait until the runtime's watch has delivered this version of a mapping."""

    def seen() -> bool:
        item = runtime.mappings.get(name, runtime.namespace) or {}
        return bool(item.get("metadata", {}).get("resourceVersion") == version)

    await eventually(seen)


async def blocked(runtime: OperatorRuntime) -> dict[str, str | None]:
    rows = await runtime.store.list_issue_snapshots()
    return {row.identifier: row.blocked_reason for row in rows}


async def test_planning_then_implementation_within_the_cap(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    mapping = await apply_mapping(kube, namespace, "ENG", capacity={"maxInProgressAiIssues": 1})
    first = linear.add_issue("ENG", "Add dark mode", labels=["AI-Implement"])
    linear.add_issue("ENG", "Fix login", labels=["AI-Implement"])
    linear.add_issue("ENG", "Not for AI")
    linear.add_issue("OPS", "Unmapped team", labels=["AI-Implement"])
    runtime = await start_operator()
    await cached(runtime, "eng")
    (linear_poller,) = [p for p in runtime.pollers() if p.source.provider == "linear"]

    await linear_poller.poll_once()
    assert await dispatch_names(kube, namespace) == ["eng-1-planning-1"]
    created = await kube.get(DISPATCHES, namespace, "eng-1-planning-1")
    assert created["metadata"]["ownerReferences"][0]["uid"] == mapping["metadata"]["uid"]
    assert created["metadata"]["labels"][constants.LABEL_TEAM] == "ENG"
    assert created["spec"]["issue"] | {"title": "Add dark mode"} == {
        "provider": "linear",
        "id": first.id,
        "identifier": "ENG-1",
        "title": "Add dark mode",
        "url": first.url,
    }
    assert created["spec"]["runnerMode"] == "github-actions"
    assert await blocked(runtime) == {"ENG-1": None, "ENG-2": "concurrency-cap"}

    await finish(kube, runtime, "eng-1-planning-1", "Succeeded")
    await linear_poller.poll_once()
    assert await dispatch_names(kube, namespace) == ["eng-1-implementation-1", "eng-1-planning-1"]
    assert (await blocked(runtime))["ENG-2"] == "concurrency-cap"

    assert await runtime.refresh_mapping_statuses() == 1, "the mapping's own status, by its one writer"
    written = await kube.get(PROJECT_MAPPINGS, namespace, "eng")
    status = written["status"]
    assert (status["inProgress"], status["blocked"], status["effectiveRunnerMode"]) == (1, 1, "github-actions")
    managers = {
        entry["manager"] for entry in written["metadata"]["managedFields"] if entry.get("subresource") == "status"
    }
    assert managers == {constants.FIELD_MANAGER_POLLER, constants.FIELD_MANAGER_MAPPINGS}
    last_poll = REGISTRY.get_sample_value("ai_implement_last_poll_timestamp_seconds", {"provider": "linear"})
    assert last_poll == operator_clock().timestamp()

    await cached_version(runtime, "eng", written["metadata"]["resourceVersion"])
    operator_clock.advance(timedelta(minutes=1))
    await linear_poller.poll_once()
    assert await runtime.refresh_mapping_statuses() == 0
    unchanged = await kube.get(PROJECT_MAPPINGS, namespace, "eng")
    assert unchanged["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"], (
        "a poll that learned nothing new writes no status"
    )


async def test_dedup_window_blocks_a_retry_until_the_entry_is_removed(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    await apply_mapping(kube, namespace, "ENG", planning={"enabled": False})
    ticket = linear.add_issue("ENG", "Flaky test", labels=["AI-Implement"])
    runtime = await start_operator()
    await cached(runtime, "eng")
    (poller,) = [p for p in runtime.pollers() if p.source.provider == "linear"]
    await poller.poll_once()
    await finish(kube, runtime, "eng-1-implementation-1", "Failed")
    await poller.poll_once()
    assert (await blocked(runtime))["ENG-1"] == "dedup-window"
    assert await dispatch_names(kube, namespace) == ["eng-1-implementation-1"]

    assert await runtime.store.remove_dedup(ticket.id)
    await poller.poll_once()
    assert await dispatch_names(kube, namespace) == ["eng-1-implementation-1", "eng-1-implementation-2"]
    await finish(kube, runtime, "eng-1-implementation-2", "Failed")
    operator_clock.advance(timedelta(hours=24))
    await poller.poll_once()
    assert "eng-1-implementation-3" in await dispatch_names(kube, namespace)


async def test_pause_approval_and_missing_credentials_block_with_their_reasons(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox
) -> None:
    await apply_mapping(kube, namespace, "ENG", paused=True)
    await apply_mapping(kube, namespace, "OPS", planning={"enabled": True, "approvalLabel": "plan-approved"})
    await apply_mapping(kube, namespace, "WEB", runner={"executionMode": "fly-machines"})
    linear.add_issue("ENG", "Paused work", labels=["AI-Implement"])
    linear.add_issue("OPS", "Needs approval", labels=["AI-Implement"])
    linear.add_issue("WEB", "Needs Fly", labels=["AI-Implement"])
    runtime = await start_operator()
    await cached(runtime, "eng", "ops", "web")
    (poller,) = [p for p in runtime.pollers() if p.source.provider == "linear"]
    await poller.poll_once()
    assert await dispatch_names(kube, namespace) == ["ops-1-planning-1"]
    await finish(kube, runtime, "ops-1-planning-1", "Succeeded")
    await poller.poll_once()
    assert await blocked(runtime) == {
        "ENG-1": "paused",
        "OPS-1": "planning-pending",
        "WEB-1": "missing-credentials",
    }
    linear.update_issue("OPS-1", add_labels=["plan-approved"])
    await poller.poll_once()
    assert "ops-1-implementation-1" in await dispatch_names(kube, namespace)


async def test_jira_tickets_are_routed_by_the_repo_field(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, jira: JiraSandbox
) -> None:
    jira_scope = {"jql": "project = PAY", "repoField": "customfield_10042", "repoFieldValue": "payments-service"}
    await apply_mapping(kube, namespace, "PAY", ticketing={"provider": "jira", "jira": jira_scope})
    jira.add_issue("PAY", "Refund flow", labels=["AI-Implement"], fields={"Repo": "payments-service"})
    jira.add_issue("PAY", "Ledger change", labels=["AI-Implement"], fields={"Repo": "ledger"})
    runtime = await start_operator()
    await cached(runtime, "pay")
    (poller,) = [p for p in runtime.pollers() if p.source.provider == "jira"]
    await poller.poll_once()
    assert await dispatch_names(kube, namespace) == ["pay-1-planning-1"]
    dispatch = await kube.get(DISPATCHES, namespace, "pay-1-planning-1")
    assert dispatch["spec"]["issue"]["url"] == "https://acme.atlassian.net/browse/PAY-1"


async def test_a_failing_provider_leaves_the_other_unharmed(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox, jira: JiraSandbox
) -> None:
    jira_scope = {"jql": "project = PAY", "repoField": "customfield_10042", "repoFieldValue": "ledger"}
    await apply_mapping(kube, namespace, "PAY", ticketing={"provider": "jira", "jira": jira_scope})
    await apply_mapping(kube, namespace, "ENG")
    jira.add_issue("PAY", "Ledger change", labels=["AI-Implement"], fields={"Repo": "ledger"})
    linear.add_issue("ENG", "Never seen", labels=["AI-Implement"])
    linear.inject(Fault.unavailable(500), times=None)
    runtime = await start_operator()
    await cached(runtime, "pay", "eng")
    reports = {p.source.provider: await p.poll_once() for p in runtime.pollers()}
    assert reports["linear"] is None
    assert reports["jira"] is not None
    assert await dispatch_names(kube, namespace) == ["pay-1-planning-1"]


async def test_rate_limits_are_waited_out(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox
) -> None:
    await apply_mapping(kube, namespace, "ENG")
    linear.add_issue("ENG", "Patience", labels=["AI-Implement"])
    linear.inject(Fault.rate_limited(wait=0.5), times=2)
    runtime = await start_operator()
    await cached(runtime, "eng")
    (poller,) = [p for p in runtime.pollers() if p.source.provider == "linear"]
    assert await poller.poll_once() is not None
    assert await dispatch_names(kube, namespace) == ["eng-1-planning-1"]


async def test_the_same_identifier_on_linear_and_jira_gets_two_dispatches(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox, jira: JiraSandbox
) -> None:
    linear.add_team("PAY")
    scope = {"jql": "project = PAY", "repoField": "customfield_10042", "repoFieldValue": "ledger"}
    await apply_mapping(kube, namespace, "PAY", ticketing={"provider": "jira", "jira": scope})
    await apply_mapping(kube, namespace, "PAYLIN", ticketing={"provider": "linear", "linear": {"teamKey": "PAY"}})
    jira.add_issue("PAY", "Jira side", labels=["AI-Implement"], fields={"Repo": "ledger"})
    linear.add_issue("PAY", "Linear side", labels=["AI-Implement"])
    runtime = await start_operator()
    await cached(runtime, "pay", "paylin")
    for poller in runtime.pollers():
        await poller.poll_once()
    for poller in runtime.pollers():
        await poller.poll_once()
    assert sorted(await dispatch_names(kube, namespace)) in (
        ["pay-1-planning-1", "pay-1-planning-1-linear"],
        ["pay-1-planning-1", "pay-1-planning-1-jira"],
    )


async def test_a_mapping_whose_runs_cannot_call_back_is_not_ready_and_dispatches_nothing(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox
) -> None:
    await apply_mapping(kube, namespace, "ENG", runner={"executionMode": "github-actions"}, planning={"enabled": False})
    linear.add_issue("ENG", "Add dark mode", labels=["AI-Implement"])
    runtime = await start_operator({"RUNNER_CALLBACK_BASE_URL": None, "RUNNER_TOKEN_SECRET": None})
    await cached(runtime, "eng")
    (poller,) = [p for p in runtime.pollers() if p.source.provider == "linear"]
    await poller.poll_once()

    assert await dispatch_names(kube, namespace) == []
    assert await blocked(runtime) == {"ENG-1": "missing-credentials"}
    await runtime.refresh_mapping_statuses()
    status = (await kube.get(PROJECT_MAPPINGS, namespace, "eng"))["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "CredentialsMissing")
    assert ready["message"] == "runs cannot start until RUNNER_CALLBACK_BASE_URL and RUNNER_TOKEN_SECRET are set"


async def test_a_deleted_mappings_gauges_go_at_the_next_poll(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox
) -> None:
    await apply_mapping(kube, namespace, "ENG")
    await apply_mapping(kube, namespace, "OPS")
    runtime = await start_operator()
    await cached(runtime, "eng")
    await cached(runtime, "ops")
    (linear_poller,) = [p for p in runtime.pollers() if p.source.provider == "linear"]
    await linear_poller.poll_once()
    assert REGISTRY.get_sample_value("ai_implement_capacity", {"team": "OPS"}) == 1

    await kube.delete(PROJECT_MAPPINGS, namespace, "ops")
    await eventually(lambda: runtime.mappings.get("ops") is None)
    await linear_poller.poll_once()

    assert REGISTRY.get_sample_value("ai_implement_capacity", {"team": "OPS"}) is None
    assert REGISTRY.get_sample_value("ai_implement_in_progress", {"team": "OPS"}) is None
    assert REGISTRY.get_sample_value("ai_implement_capacity", {"team": "ENG"}) == 1
