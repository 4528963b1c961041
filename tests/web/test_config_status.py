"""/api/admin/config-status with real clients against the Linear and Jira sandboxes."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest

from controller.config import load_settings
from controller.httpclient import RetryPolicy
from controller.kube import connection_to
from controller.sandbox import Fault, JiraSandbox, LinearSandbox
from controller.ticketing.clients import open_ticketing_clients
from controller.web.server import ticketing_probes
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

LINEAR_KEY = "lin_api_configStatusKey0123456789"
JIRA_TOKEN = "jira-config-status-token"
JIRA_CLOUD_ID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
async def linear_sandbox() -> AsyncIterator[LinearSandbox]:
    sandbox = LinearSandbox()
    sandbox.add_user("Ada Lovelace", "ada@example.com", api_key=LINEAR_KEY)
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def jira_sandbox() -> AsyncIterator[JiraSandbox]:
    sandbox = JiraSandbox()
    sandbox.add_site(JIRA_CLOUD_ID, site_url="https://acme.atlassian.net")
    sandbox.add_user("Grace Hopper", "grace@example.com", token=JIRA_TOKEN)
    async with sandbox.running():
        yield sandbox


async def status_of(api: Api) -> dict[str, dict[str, Any]]:
    response = await api.client.get("/api/admin/config-status", headers=await api.login())
    assert response.status == 200
    return {check["id"]: check for check in (await response.json())["checks"]}


async def start_with_ticketing(start_api: ApiFactory, stack: AsyncExitStack, env: dict[str, str]) -> Api:
    settings = load_settings(env, env_file=None)
    return await start_api(env=env, probes=ticketing_probes(await open_ticketing_clients(settings, stack)))


async def test_both_providers_connected(
    start_api: ApiFactory, linear_sandbox: LinearSandbox, jira_sandbox: JiraSandbox
) -> None:
    env = {
        "LINEAR_API_KEY": LINEAR_KEY,
        "LINEAR_API_URL": f"{linear_sandbox.url}/graphql",
        "JIRA_TOKEN": JIRA_TOKEN,
        "JIRA_CLOUD_ID": JIRA_CLOUD_ID,
        "JIRA_SITE_URL": "https://acme.atlassian.net",
        "JIRA_API_BASE_URL": str(jira_sandbox.url),
    }
    async with AsyncExitStack() as stack:
        checks = await status_of(await start_with_ticketing(start_api, stack, env))
    assert checks["ticketing.linear"]["status"] == "ok"
    assert "Ada Lovelace" in checks["ticketing.linear"]["message"]
    assert checks["ticketing.jira"]["status"] == "ok"
    assert "Grace Hopper" in checks["ticketing.jira"]["message"]


async def test_a_bad_key_is_an_error_that_says_so(start_api: ApiFactory, linear_sandbox: LinearSandbox) -> None:
    env = {"LINEAR_API_KEY": "lin_api_revoked000000000000", "LINEAR_API_URL": f"{linear_sandbox.url}/graphql"}
    async with AsyncExitStack() as stack:
        checks = await status_of(await start_with_ticketing(start_api, stack, env))
    assert checks["ticketing.linear"]["status"] == "error"
    assert "lin_api_revoked" not in checks["ticketing.linear"]["message"]


async def test_answers_are_cached_for_a_minute(
    start_api: ApiFactory, linear_sandbox: LinearSandbox, clock: FakeClock
) -> None:
    env = {"LINEAR_API_KEY": LINEAR_KEY, "LINEAR_API_URL": f"{linear_sandbox.url}/graphql"}
    async with AsyncExitStack() as stack:
        api = await start_with_ticketing(start_api, stack, env)
        await status_of(api)
        await status_of(api)
        assert len(linear_sandbox.requests_to("POST", "/graphql")) == 1
        clock.advance(timedelta(seconds=61))
        await status_of(api)
        assert len(linear_sandbox.requests_to("POST", "/graphql")) == 2


async def test_an_unreachable_provider_is_an_error_not_a_500(
    start_api: ApiFactory, linear_sandbox: LinearSandbox
) -> None:
    linear_sandbox.inject(Fault.unavailable(503), times=None)
    env = {"LINEAR_API_KEY": LINEAR_KEY, "LINEAR_API_URL": f"{linear_sandbox.url}/graphql"}
    settings = load_settings(env, env_file=None)
    async with AsyncExitStack() as stack:
        probes = ticketing_probes(await open_ticketing_clients(settings, stack, retry=RetryPolicy(max_attempts=1)))
        checks = await status_of(await start_api(env=env, probes=probes))
    assert checks["ticketing.linear"]["status"] == "error"


async def test_without_any_provider_the_check_says_what_to_set(api: Api) -> None:
    checks = await status_of(api)
    assert checks["ticketing"]["status"] == "error"
    assert "LINEAR_API_KEY" in checks["ticketing"]["message"]


async def test_callback_trigger_and_webhook_checks(start_api: ApiFactory) -> None:
    bare = await status_of(await start_api())
    assert bare["runner-callback"]["status"] == "warning"
    assert bare["gap-fill-trigger"]["status"] == "warning"
    assert bare["github-webhook"]["status"] == "warning"
    configured = await status_of(
        await start_api(
            env={
                "RUNNER_CALLBACK_BASE_URL": "https://ai.example.com",
                "RUNNER_TOKEN_SECRET": "x" * 32,
                "GAP_FILL_TRIGGER_SECRET": "y" * 32,
                "GITHUB_WEBHOOK_SECRET": "z" * 32,
            }
        )
    )
    assert {configured[name]["status"] for name in ("runner-callback", "gap-fill-trigger", "github-webhook")} == {"ok"}


async def test_a_mapping_without_callbacks_is_an_error_whatever_runs_it(start_api: ApiFactory) -> None:
    api = await start_api(env={"FLY_SESSIONS_TOKEN": "fly-token", "FLY_SESSIONS_APP": "acme-sessions"})
    assert (await status_of(api))["runner-callback"]["status"] == "warning"
    headers = await api.login()
    actions_mapping = {
        "teamKey": "ENG",
        "ticketing": {"provider": "linear"},
        "source": {"owner": "acme", "repo": "webapp", "defaultBranch": "main"},
        "runner": {"executionMode": "github-actions"},
    }
    assert (await api.client.post("/api/mappings", json=actions_mapping, headers=headers)).status == 201
    await eventually(lambda: len(api.context.mappings.items()) == 1)
    callback = (await status_of(api))["runner-callback"]
    assert callback["status"] == "error"
    assert callback["message"].startswith(
        "RUNNER_CALLBACK_BASE_URL and RUNNER_TOKEN_SECRET are unset: no run of ENG can start"
    )
    for mode in ("gha", "fly"):
        await api.client.post("/api/runner-mode", json={"mode": mode}, headers=headers)
        assert (await status_of(api))["runner-callback"]["status"] == "error", mode


async def test_the_kubernetes_check_is_first_and_ok_on_the_real_cluster(api: Api) -> None:
    checks = await status_of(api)
    assert next(iter(checks)) == "kubernetes"
    assert checks["kubernetes"]["status"] == "ok"
    assert api.context.kube.connection.server in checks["kubernetes"]["message"]


async def test_an_unreachable_kubernetes_api_fails_its_check_and_keeps_the_others(start_api: ApiFactory) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # bound, never listening: refused, and no other server can take the port
        unreachable = connection_to(f"http://127.0.0.1:{held.getsockname()[1]}")
        api = await start_api(env={"GAP_FILL_TRIGGER_SECRET": "y" * 32}, kube_connection=unreachable)
        response = await api.client.get("/api/admin/config-status", headers=await api.login())
    assert response.status == 200
    checks = {check["id"]: check for check in (await response.json())["checks"]}
    assert set(checks) == {"kubernetes", "ticketing", "runner-callback", "gap-fill-trigger", "github-webhook"}
    assert checks["kubernetes"]["status"] == "error"
    assert checks["kubernetes"]["message"].startswith(f"the API server at {unreachable.server} is unreachable")
    assert checks["kubernetes"]["message"].endswith("the checks below do not know the mappings and treat them as none")
    assert checks["gap-fill-trigger"]["status"] == "ok"
