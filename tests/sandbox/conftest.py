"""Fixtures of the sandbox tier: each sandbox on a loopback port, a real client pointed at it, fake time."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from controller.fly import FlyClient
from controller.httpclient import RetryPolicy
from controller.sandbox import FlySandbox, JiraSandbox, LinearSandbox
from controller.sandbox.jira import FieldKind
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
LINEAR_WEBHOOK_SECRET = "lin_wh_sandboxSigningSecret0123456789abcdef"
SECRETS = (FLY_TOKEN, FLY_PERSONAL_TOKEN, LINEAR_KEY, LINEAR_OAUTH_TOKEN, JIRA_TOKEN, LINEAR_WEBHOOK_SECRET)


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


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def quick_transport() -> httpx.AsyncHTTPTransport:
    """A client transport sharing one TLS context: each new context loads the CA bundle (about 60 ms),
    which, once per test, would cost more than the Linear tests themselves."""
    return httpx.AsyncHTTPTransport(verify=_tls_context())


@pytest.fixture
async def linear(linear_sandbox: LinearSandbox, retry: RetryPolicy) -> AsyncIterator[LinearClient]:
    endpoint = f"{linear_sandbox.url}/graphql"
    async with LinearClient(LINEAR_KEY, endpoint=endpoint, retry=retry, transport=quick_transport()) as client:
        yield client


@pytest.fixture
def linear_workspace(linear_sandbox: LinearSandbox) -> LinearSandbox:
    """Teams ENG, OPS and WEB; the AI label in the workspace and again, lower-case, as an OPS team label."""
    for key in ("ENG", "OPS", "WEB"):
        linear_sandbox.add_team(key)
    linear_sandbox.add_label("AI-Implement")
    linear_sandbox.add_label("ai-implement", team_key="OPS")
    linear_sandbox.add_label("Bug")
    return linear_sandbox


# Jira: one site, a token for an ordinary integration user and one for an administrator.

JIRA_SITE_URL = "https://acme.atlassian.net"
JIRA_ADMIN_TOKEN = "ATATT3xFfGF0sandboxJiraAdminToken=EF56GH78"
JIRA_WEBHOOK_SECRET = "jira-webhook-secret-0123456789abcdef"
JIRA_SECRETS = (JIRA_TOKEN, JIRA_ADMIN_TOKEN, JIRA_WEBHOOK_SECRET)


@pytest.fixture
async def jira_sandbox(fake_time: FakeTime) -> AsyncIterator[JiraSandbox]:
    sandbox = JiraSandbox(clock=fake_time.clock)
    sandbox.add_site(JIRA_CLOUD_ID, site_url=JIRA_SITE_URL)
    sandbox.add_user("Grace Hopper", "grace@example.com", token=JIRA_TOKEN)
    sandbox.add_user("Jira Admin", "admin@example.com", token=JIRA_ADMIN_TOKEN, admin=True)
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def jira(jira_sandbox: JiraSandbox, retry: RetryPolicy) -> AsyncIterator[JiraClient]:
    assert jira_sandbox.url is not None
    async with JiraClient(
        JIRA_TOKEN, JIRA_CLOUD_ID, site_url=JIRA_SITE_URL, gateway_url=jira_sandbox.url, retry=retry
    ) as client:
        yield client


@pytest.fixture
def jira_site(jira_sandbox: JiraSandbox) -> JiraSandbox:
    """Projects ENG, OPS and WEB on the default workflow; repo fields as a select (customfield_10042,
    "Repo"), a text field (customfield_10043, "Repo Name") and a multi-select (customfield_10044, "Repos")."""
    for key in ("ENG", "OPS", "WEB"):
        jira_sandbox.add_project(key, f"{key.title()} project")
    jira_sandbox.add_field("Repo", FieldKind.SELECT, options=["repo-a", "repo-b", "repo-c"])
    jira_sandbox.add_field("Repo Name", FieldKind.TEXT)
    jira_sandbox.add_field("Repos", FieldKind.MULTI_SELECT, options=["web-app", "docs", "api"])
    return jira_sandbox
