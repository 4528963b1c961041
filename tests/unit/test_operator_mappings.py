"""Routing tickets to mappings, and the status each mapping deserves."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.config import RunnerMode, load_settings
from controller.operator.tickets.mappings import (
    MappingDirectory,
    MappingStatusFacts,
    build_index,
    indexed_mapping,
    mapping_status_patch,
    status_patch_changes,
)
from controller.ticketing.model import StateCategory, Ticket

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def mapping(name: str, team: str, *, via: str = "linear", route: str | None = None, **spec: Any) -> dict[str, Any]:
    ticketing: dict[str, Any] = {"provider": via}
    if via == "linear" and route:
        ticketing["linear"] = {"teamKey": route}
    if via == "jira":
        ticketing["jira"] = {"jql": "project = PAY", "repoField": "customfield_1", "repoFieldValue": route or "repo"}
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "generation": 3},
        "spec": {
            "teamKey": team,
            "ticketing": ticketing,
            "source": {"owner": "acme", "repo": name, "defaultBranch": "main"},
            **spec,
        },
    }


def ticket(provider: str, route_key: str) -> Ticket:
    return Ticket(
        provider=provider,  # type: ignore[arg-type]
        id="1",
        identifier="X-1",
        title="t",
        url="u",
        state_name="Todo",
        state=StateCategory.UNSTARTED,
        labels=frozenset(),
        updated_at=NOW,
        route_key=route_key,
    )


def test_tickets_route_by_provider_and_key() -> None:
    index = build_index(
        [
            mapping("eng", "ENG"),
            mapping("ops", "OPS", route="INFRA"),
            mapping("pay", "PAY", via="jira", route="payments"),
        ]
    )
    assert index.route(ticket("linear", "ENG")).name == "eng"  # type: ignore[union-attr]
    assert index.route(ticket("linear", "INFRA")).name == "ops"  # type: ignore[union-attr]
    assert index.route(ticket("jira", "payments")).name == "pay"  # type: ignore[union-attr]
    assert index.route(ticket("linear", "OPS")) is None
    assert [s.route_key for s in index.scopes("linear")] == ["ENG", "INFRA"]
    (jira_scope,) = index.scopes("jira")
    assert (jira_scope.jql, jira_scope.repo_field, jira_scope.team_key) == ("project = PAY", "customfield_1", "PAY")


def test_a_scope_claimed_twice_goes_to_the_first_name() -> None:
    index = build_index([mapping("eng-b", "ENG_B", route="ENG"), mapping("eng-a", "ENG_A", route="ENG")])
    assert index.route(ticket("linear", "ENG")).name == "eng-a"  # type: ignore[union-attr]
    assert "already routes" in index.conflicts["eng-b"]
    assert [m.name for m in index.mappings_of("linear")] == ["eng-a", "eng-b"]


def test_a_jira_mapping_whose_jql_could_escape_the_poll_routes_nothing_and_says_why(rsa_key_pem: str) -> None:
    """Applied with kubectl (the CRD cannot count parentheses), it is still read and shown, never polled."""
    escaping = mapping("pay", "PAY", via="jira", route="pay")
    escaping["spec"]["ticketing"]["jira"]["jql"] = "x)) OR ((y"
    index = build_index([escaping, mapping("fin", "FIN", via="jira", route="fin")])

    assert [scope.team_key for scope in index.scopes("jira")] == ["FIN"]
    assert "closes a parenthesis it never opened" in index.unsafe["pay"]
    assert [m.name for m in index.readable] == ["fin", "pay"], "still read, so still listed"
    env = GITHUB | CALLBACKS | {"GITHUB_APP_PRIVATE_KEY": rsa_key_pem, "JIRA_TOKEN": "t"}
    env |= {"JIRA_CLOUD_ID": "c", "JIRA_SITE_URL": "https://acme.atlassian.net"}
    patch = status(env, escaping, MappingStatusFacts(RunnerMode.GHA, unsafe_jql=index.unsafe["pay"]))
    ready = next(c for c in patch["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "UnsafeJql")
    assert "fix spec.ticketing.jira.jql" in ready["message"]


def test_unreadable_mappings_are_left_out() -> None:
    broken = mapping("bad", "BAD")
    del broken["spec"]["source"]
    assert [m.spec.team_key for m in build_index([broken, mapping("eng", "ENG")]).readable] == ["ENG"]


def status(settings_env: dict[str, str], body: dict[str, Any], facts: MappingStatusFacts, previous: Any = None) -> Any:
    return mapping_status_patch(
        indexed_mapping(body), load_settings(settings_env, env_file=None), facts, previous or {}, NOW
    )


GITHUB = {"GITHUB_APP_ID": "1"}


def test_missing_credentials_show_in_both_conditions(rsa_key_pem: str) -> None:
    patch = status(
        GITHUB | {"GITHUB_APP_PRIVATE_KEY": rsa_key_pem}, mapping("eng", "ENG"), MappingStatusFacts(RunnerMode.DEFAULT)
    )
    conditions = {c["type"]: c for c in patch["conditions"]}
    assert conditions["CredentialsResolved"]["status"] == "False"
    assert "LINEAR_API_KEY is not set" in conditions["CredentialsResolved"]["message"]
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "CredentialsMissing")
    assert patch["observedGeneration"] == 3
    assert patch["effectiveMaxIterations"] == 3


CALLBACKS = {"RUNNER_CALLBACK_BASE_URL": "https://ai.example.com", "RUNNER_TOKEN_SECRET": "s" * 32}


def test_a_mapping_whose_runs_cannot_call_back_is_not_ready(rsa_key_pem: str) -> None:
    env = GITHUB | {"GITHUB_APP_PRIVATE_KEY": rsa_key_pem, "LINEAR_API_KEY": "lin_api_x"}
    patch = status(env, mapping("eng", "ENG"), MappingStatusFacts(RunnerMode.DEFAULT))
    conditions = {c["type"]: c for c in patch["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "CredentialsMissing")
    assert conditions["Ready"]["message"] == (
        "runs cannot start until RUNNER_CALLBACK_BASE_URL and RUNNER_TOKEN_SECRET are set"
    )
    assert conditions["CredentialsResolved"]["message"].startswith(
        "RUNNER_CALLBACK_BASE_URL is not set: the mapping runs on GitHub Actions"
    )
    one_missing = status(
        env | {"RUNNER_TOKEN_SECRET": "s" * 32},
        mapping("eng", "ENG"),
        MappingStatusFacts(RunnerMode.DEFAULT),
    )
    ready = next(c for c in one_missing["conditions"] if c["type"] == "Ready")
    assert ready["message"] == "runs cannot start until RUNNER_CALLBACK_BASE_URL is set"


def test_ready_mapping_with_its_effective_mode(rsa_key_pem: str) -> None:
    env = GITHUB | CALLBACKS | {"GITHUB_APP_PRIVATE_KEY": rsa_key_pem, "LINEAR_API_KEY": "lin_api_x"}
    patch = status(
        env,
        mapping("eng", "ENG", provider={"name": "bedrock", "awsRegion": "us-east-1"}),
        MappingStatusFacts(RunnerMode.GHA),
    )
    conditions = {c["type"]: c for c in patch["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert patch["effectiveRunnerMode"] == "github-actions"
    assert patch["effectiveMaxIterations"] == 2
    assert "lastPolledAt" not in patch, "the last poll is one figure per provider, not a write per mapping"
    assert not {"inProgress", "blocked"} & set(patch), "the counts are the poller's fields"
    assert set(conditions) == {"Ready", "CredentialsResolved"}, "only the reconciler's own conditions"


def test_a_status_that_would_not_change_is_not_written(rsa_key_pem: str) -> None:
    env = GITHUB | CALLBACKS | {"GITHUB_APP_PRIVATE_KEY": rsa_key_pem, "LINEAR_API_KEY": "lin_api_x"}
    facts = MappingStatusFacts(RunnerMode.DEFAULT)
    first = status(env, mapping("eng", "ENG"), facts)
    other = {"type": "WorkflowsInSync", "status": "True", "reason": "Current", "message": "m"}
    stored = json.loads(json.dumps({**first, "conditions": [other, *first["conditions"]], "workflowTemplate": "x"}))
    later = mapping_status_patch(
        indexed_mapping(mapping("eng", "ENG")),
        load_settings(env, env_file=None),
        facts,
        stored,
        NOW + timedelta(minutes=5),
    )
    assert not status_patch_changes(stored, later), "same facts later: nothing to write"
    reordered = {**stored, "conditions": list(reversed(stored["conditions"]))}
    assert not status_patch_changes(reordered, later), "another writer's order of the conditions is no change"
    without_theirs = {**stored, "conditions": [c for c in stored["conditions"] if c["type"] != "WorkflowsInSync"]}
    assert not status_patch_changes(without_theirs, later), "another writer's condition is not ours to compare"
    in_shadow = mapping_status_patch(
        indexed_mapping(mapping("eng", "ENG")),
        load_settings(env, env_file=None),
        replace(facts, runner_mode=RunnerMode.SHADOW),
        stored,
        NOW + timedelta(minutes=5),
    )
    assert status_patch_changes(stored, in_shadow)
    paused = status(env, mapping("eng", "ENG", paused=True), facts, stored)
    assert status_patch_changes(stored, paused)


def test_transition_time_only_moves_when_the_status_changes(rsa_key_pem: str) -> None:
    env = GITHUB | CALLBACKS | {"GITHUB_APP_PRIVATE_KEY": rsa_key_pem, "LINEAR_API_KEY": "lin_api_x"}
    earlier = (NOW - timedelta(days=1)).isoformat()
    previous = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": earlier}]}
    patch = status(env, mapping("eng", "ENG"), MappingStatusFacts(RunnerMode.DEFAULT), previous)
    ready = next(c for c in patch["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"].startswith("2026-11-21T12:00:00")
    paused = status(env, mapping("eng", "ENG", paused=True), MappingStatusFacts(RunnerMode.DEFAULT), previous)
    assert next(c for c in paused["conditions"] if c["type"] == "Ready")["reason"] == "Paused"


def test_shadow_mode_is_reported_as_shadow(rsa_key_pem: str) -> None:
    env = GITHUB | {"GITHUB_APP_PRIVATE_KEY": rsa_key_pem}
    facts = replace(MappingStatusFacts(RunnerMode.SHADOW), conflict="taken")
    patch = status(env, mapping("eng", "ENG"), facts)
    assert patch["effectiveRunnerMode"] == "shadow"
    assert next(c for c in patch["conditions"] if c["type"] == "Ready")["reason"] == "DuplicateScope"


class CacheOf:
    """An informer's reading side, for the directory: its items and its change callbacks."""

    def __init__(self, *items: dict[str, Any]) -> None:
        self._items = list(items)

    def items(self) -> list[dict[str, Any]]:
        raise AssertionError("the directory reads the informer's parsed views, never a copy of every object")

    def parsed(self, parse: Any) -> list[Any]:
        return [parse(json.loads(json.dumps(item))) for item in self._items]

    def on_change(self, _callback: Any) -> None:
        return None


def test_a_mapping_newer_than_the_cache_is_indexed_as_kopf_hands_it_over() -> None:
    """A duplicate scope created a moment ago is a conflict at once, even before the watch delivers it."""
    first = mapping("eng", "ENG")
    directory = MappingDirectory(CacheOf(first))  # type: ignore[arg-type]
    duplicate = mapping("eng-again", "ENG")

    assert "eng-again" in directory.index_with(duplicate).conflicts
    assert directory.index_with(first) is directory.index(), "what the cache already has costs no rebuild"


def test_an_unreadable_mapping_is_left_out_of_the_directory_not_fatal() -> None:
    broken = mapping("ops", "OPS")
    broken["spec"]["capacity"] = {"maxInProgressAiIssues": "many"}
    directory = MappingDirectory(CacheOf(mapping("eng", "ENG"), broken))  # type: ignore[arg-type]

    assert [m.name for m in directory.index().readable] == ["eng"]


def test_a_note_that_no_longer_applies_is_written_away(rsa_key_pem: str) -> None:
    env = GITHUB | CALLBACKS | {"GITHUB_APP_PRIVATE_KEY": rsa_key_pem, "LINEAR_API_KEY": "lin_api_x"}
    bedrock = mapping("eng", "ENG", provider={"name": "bedrock", "awsRegion": "us-east-1"})
    on_fly = status(env, bedrock, MappingStatusFacts(RunnerMode.FLY))
    by_default = status(env, bedrock, MappingStatusFacts(RunnerMode.DEFAULT))

    assert "Bedrock cannot run on Fly Machines" in on_fly["effectiveRunnerModeNote"]
    assert "effectiveRunnerModeNote" not in by_default, "never null: the CRD takes a string or nothing"
    assert status_patch_changes(on_fly, by_default), "the note has to go"
    assert not status_patch_changes(by_default, by_default)
