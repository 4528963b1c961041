"""JiraClient against the Jira sandbox: myself, gateway failures, Retry-After seconds and ISO resets."""

from __future__ import annotations

import logging

import httpx
import pytest

from controller.httpclient import RetryPolicy
from controller.sandbox import Fault, JiraSandbox
from controller.ticketing.jira import (
    JiraAuthError,
    JiraClient,
    JiraError,
    JiraNotFound,
    JiraRateLimited,
    JiraUnavailable,
)
from tests.sandbox.conftest import JIRA_CLOUD_ID, JIRA_TOKEN, SECRETS
from tests.sandbox.support import FakeTime, assert_no_secrets, schema_problems, spec_schemas

MYSELF_PATH = f"/ex/jira/{JIRA_CLOUD_ID}/rest/api/3/myself"
JIRA_SPEC = "jira-platform-openapi.json"


async def test_myself_answers_the_tokens_user_through_the_gateway(jira: JiraClient, jira_sandbox: JiraSandbox) -> None:
    user = await jira.myself()

    assert (user.display_name, user.email) == ("Grace Hopper", "grace@example.com")
    assert len(user.account_id) == 24
    [request] = jira_sandbox.requests
    assert request.path == MYSELF_PATH
    assert request.authorization == f"Bearer {JIRA_TOKEN}"
    assert request.body == b"", "a GET carries no body (Jira's CDN refuses GETs with one)"


async def test_a_hidden_email_is_none(jira_sandbox: JiraSandbox) -> None:
    jira_sandbox.add_user("Private Person", None, token="private-token")
    assert jira_sandbox.url is not None
    async with JiraClient("private-token", JIRA_CLOUD_ID, gateway_url=jira_sandbox.url) as client:
        user = await client.myself()

    assert user.email is None


async def test_the_myself_answer_matches_the_published_user_schema(jira_sandbox: JiraSandbox) -> None:
    schemas = spec_schemas(JIRA_SPEC)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {JIRA_TOKEN}"}) as http:
        body = (await http.get(f"{jira_sandbox.url}{MYSELF_PATH}")).json()

    assert schema_problems(body, {"$ref": "#/components/schemas/User"}, schemas) == []
    assert {"accountId", "displayName", "emailAddress", "active", "self"} <= set(body)


async def test_an_unknown_cloud_id_is_not_found(jira_sandbox: JiraSandbox, retry: RetryPolicy) -> None:
    assert jira_sandbox.url is not None
    async with JiraClient(JIRA_TOKEN, "no-such-cloud", gateway_url=jira_sandbox.url, retry=retry) as client:
        with pytest.raises(JiraNotFound) as caught:
            await client.myself()

    assert caught.value.status == 404
    assert "no-such-cloud" in str(caught.value)
    assert len(jira_sandbox.requests) == 1


async def test_a_bad_token_is_an_auth_error_with_the_gateways_words(
    jira_sandbox: JiraSandbox, retry: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad_token = "ATATT3xRevokedTokenThatMustNotLeak"
    assert jira_sandbox.url is not None
    async with JiraClient(bad_token, JIRA_CLOUD_ID, gateway_url=jira_sandbox.url, retry=retry) as client:
        with pytest.raises(JiraAuthError) as caught:
            await client.myself()

    assert caught.value.status == 401
    assert str(caught.value).endswith(": Unauthorized")
    assert caught.value.request_id
    assert len(jira_sandbox.requests) == 1
    assert_no_secrets([bad_token, *SECRETS], records=caplog.records, errors=[caught.value])


async def test_a_token_for_another_site_is_an_auth_error(jira_sandbox: JiraSandbox) -> None:
    other_site = jira_sandbox.add_site()
    jira_sandbox.add_user("Elsewhere", "e@example.com", token="other-site-token", cloud_ids=[other_site])
    assert jira_sandbox.url is not None
    async with JiraClient("other-site-token", JIRA_CLOUD_ID, gateway_url=jira_sandbox.url) as client:
        with pytest.raises(JiraAuthError, match="scope does not match"):
            await client.myself()


async def test_retry_after_is_honoured_in_seconds(
    jira: JiraClient, jira_sandbox: JiraSandbox, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    jira_sandbox.inject(Fault.rate_limited(wait=7))

    await jira.myself()

    assert fake_time.sleeps == [7.0]
    [retry_log] = [record for record in caplog.records if record.name == "controller.httpclient"]
    assert retry_log.__dict__["http_path"] == MYSELF_PATH
    assert_no_secrets(SECRETS, records=caplog.records)


async def test_without_retry_after_the_iso_reset_minute_is_honoured(
    jira: JiraClient, jira_sandbox: JiraSandbox, fake_time: FakeTime
) -> None:
    jira_sandbox.inject(Fault.rate_limited())  # X-RateLimit-Reset 03:05Z only; the clock says 03:04:00Z

    await jira.myself()

    assert fake_time.sleeps == [60.0]


async def test_a_rate_limit_that_never_ends_is_jira_rate_limited_after_max_attempts(
    jira: JiraClient, jira_sandbox: JiraSandbox, fake_time: FakeTime
) -> None:
    jira_sandbox.inject(Fault.rate_limited(wait=5), times=None)

    with pytest.raises(JiraRateLimited) as caught:
        await jira.myself()

    assert fake_time.sleeps == [5.0, 5.0, 5.0]
    assert caught.value.retry_after == 5.0
    assert caught.value.error_messages == ("Rate limit exceeded.",)
    assert len(jira_sandbox.requests) == 4


async def test_a_503_with_retry_after_is_retried_as_asked(
    jira: JiraClient, jira_sandbox: JiraSandbox, fake_time: FakeTime
) -> None:
    jira_sandbox.inject(Fault.unavailable(503, wait=4))

    await jira.myself()

    assert fake_time.sleeps == [4.0]


async def test_a_lasting_outage_is_jira_unavailable_with_jiras_words(
    jira: JiraClient, jira_sandbox: JiraSandbox
) -> None:
    jira_sandbox.inject(Fault.unavailable(503), times=None)

    with pytest.raises(JiraUnavailable) as caught:
        await jira.myself()

    assert "Service temporarily unavailable." in str(caught.value)
    assert caught.value.temporary


async def test_jira_error_bodies_are_read_into_messages_and_fields() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"errorMessages": ["Issue does not exist"], "errors": {"labels": "Labels must not contain spaces"}}
        return httpx.Response(400, json=body)

    async with JiraClient(JIRA_TOKEN, JIRA_CLOUD_ID, transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(JiraError) as caught:
            await client.myself()

    assert type(caught.value) is JiraError
    assert caught.value.error_messages == ("Issue does not exist",)
    assert caught.value.errors == {"labels": "Labels must not contain spaces"}
    assert "Issue does not exist; labels: Labels must not contain spaces" in str(caught.value)


async def test_the_default_gateway_is_atlassians() -> None:
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"accountId": "a", "displayName": "A"})

    async with JiraClient(JIRA_TOKEN, JIRA_CLOUD_ID, transport=httpx.MockTransport(answer)) as client:
        await client.myself()

    assert str(seen[0]) == f"https://api.atlassian.com{MYSELF_PATH}"
