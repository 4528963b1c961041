"""Fixtures of the sandbox tier: each sandbox on a loopback port, a real client pointed at it, fake time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from controller.fly import FlyClient
from controller.httpclient import RetryPolicy
from controller.sandbox import FlySandbox, JiraSandbox, LinearSandbox
from controller.ticketing.jira import JiraClient
from controller.ticketing.linear import LinearClient
from tests.sandbox.support import FakeTime

FLY_APP = "ai-implement-sessions"
FLY_TOKEN = "fm2_lJPECAAAAAAAAMuLxBCsandboxDeployTokenQ1w2e3r4"
FLY_PERSONAL_TOKEN = "fo1_sandboxPersonalToken9z8y7x"
LINEAR_KEY = "lin_api_sandboxKey0123456789abcdefABCDEF"
LINEAR_OAUTH_TOKEN = "lin_oauth_sandboxAccessToken42"
JIRA_TOKEN = "ATATT3xFfGF0sandboxJiraToken=AB12CD34"
JIRA_CLOUD_ID = "0f8b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
SECRETS = (FLY_TOKEN, FLY_PERSONAL_TOKEN, LINEAR_KEY, LINEAR_OAUTH_TOKEN, JIRA_TOKEN)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def retry(fake_time: FakeTime) -> RetryPolicy:
    """Four attempts; jitter pinned to half the ceiling, so backoff waits are 0.25, 0.5, 1.0 s."""
    return RetryPolicy(
        max_attempts=4,
        base_delay=0.5,
        max_delay=8.0,
        max_wait=90.0,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        random=lambda: 0.5,
    )


@pytest.fixture
async def fly_sandbox(fake_time: FakeTime) -> AsyncIterator[FlySandbox]:
    sandbox = FlySandbox(clock=fake_time.clock)
    sandbox.add_app(FLY_APP)
    sandbox.add_app("someone-elses-app")
    sandbox.add_token(FLY_TOKEN, apps=[FLY_APP])
    sandbox.add_token(FLY_PERSONAL_TOKEN, can_read_secrets=True)
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def fly(fly_sandbox: FlySandbox, retry: RetryPolicy) -> AsyncIterator[FlyClient]:
    assert fly_sandbox.url is not None
    async with FlyClient(fly_sandbox.url, FLY_TOKEN, retry=retry) as client:
        yield client


@pytest.fixture
async def linear_sandbox(fake_time: FakeTime) -> AsyncIterator[LinearSandbox]:
    sandbox = LinearSandbox(clock=fake_time.clock)
    sandbox.add_user("Ada Lovelace", "ada@example.com", api_key=LINEAR_KEY, oauth_token=LINEAR_OAUTH_TOKEN)
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def linear(linear_sandbox: LinearSandbox, retry: RetryPolicy) -> AsyncIterator[LinearClient]:
    async with LinearClient(LINEAR_KEY, endpoint=f"{linear_sandbox.url}/graphql", retry=retry) as client:
        yield client


@pytest.fixture
async def jira_sandbox(fake_time: FakeTime) -> AsyncIterator[JiraSandbox]:
    sandbox = JiraSandbox(clock=fake_time.clock)
    sandbox.add_site(JIRA_CLOUD_ID, site_url="https://acme.atlassian.net")
    sandbox.add_user("Grace Hopper", "grace@example.com", token=JIRA_TOKEN)
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def jira(jira_sandbox: JiraSandbox, retry: RetryPolicy) -> AsyncIterator[JiraClient]:
    assert jira_sandbox.url is not None
    async with JiraClient(JIRA_TOKEN, JIRA_CLOUD_ID, gateway_url=jira_sandbox.url, retry=retry) as client:
        yield client
