"""FlyClient against the Fly sandbox: app secrets, auth schemes, errors, retries, no leaked secret."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest

from controller.fly import (
    FlyAuthError,
    FlyClient,
    FlyError,
    FlyNotFound,
    FlyRateLimited,
    FlySecret,
    FlySecretNotFound,
    FlyUnavailable,
    fly_authorization,
)
from controller.httpclient import RetryPolicy
from controller.sandbox import Fault, FlySandbox
from tests.sandbox.conftest import FLY_APP, FLY_PERSONAL_TOKEN, FLY_TOKEN, SECRETS
from tests.sandbox.support import START, FakeTime, assert_no_secrets

SECRETS_PATH = f"/v1/apps/{FLY_APP}/secrets"
SECRET_VALUE = "sk-ant-sandbox-secret-value-do-not-log"


async def test_a_set_secret_is_listed_by_name_and_digest_never_by_value(
    fly: FlyClient, fly_sandbox: FlySandbox
) -> None:
    first = await fly.set_secret(FLY_APP, "ACME_ANTHROPIC_API_KEY", SECRET_VALUE)
    second = await fly.set_secret(FLY_APP, "ACME_GITHUB_TOKEN", "ghs_other")

    secrets = await fly.list_secrets(FLY_APP)

    assert (first, second) == (1, 2)
    assert [secret.name for secret in secrets] == ["ACME_ANTHROPIC_API_KEY", "ACME_GITHUB_TOKEN"]
    assert secrets[0].created_at == datetime.fromtimestamp(START, UTC)
    assert len(secrets[0].digest) == 16
    assert "value" not in FlySecret.model_fields
    assert fly_sandbox.requests_to("POST", f"{SECRETS_PATH}/ACME_ANTHROPIC_API_KEY")[0].json() == {
        "value": SECRET_VALUE
    }
    assert "show_secrets" not in fly_sandbox.requests_to("GET", SECRETS_PATH)[0].query


async def test_replacing_a_value_changes_the_digest_and_keeps_the_creation_time(
    fly: FlyClient, fake_time: FakeTime
) -> None:
    await fly.set_secret(FLY_APP, "TOKEN", "one")
    [before] = await fly.list_secrets(FLY_APP)
    fake_time.now += 60
    await fly.set_secret(FLY_APP, "TOKEN", "two")
    [after] = await fly.list_secrets(FLY_APP)

    assert after.digest != before.digest
    assert after.created_at == before.created_at
    assert after.updated_at is not None
    assert before.updated_at is not None
    assert (after.updated_at - before.updated_at).total_seconds() == 60


async def test_deleting_a_secret_returns_the_new_version(fly: FlyClient, fly_sandbox: FlySandbox) -> None:
    await fly.set_secret(FLY_APP, "TOKEN", SECRET_VALUE)

    version = await fly.delete_secret(FLY_APP, "TOKEN")

    assert version == 2
    assert fly_sandbox.apps[FLY_APP].secrets == {}
    assert await fly.list_secrets(FLY_APP) == []


async def test_deleting_a_missing_secret_is_secret_not_found_with_flys_words(fly: FlyClient) -> None:
    with pytest.raises(FlySecretNotFound) as caught:
        await fly.delete_secret(FLY_APP, "NEVER_SET")

    error = caught.value
    assert isinstance(error, FlyNotFound)
    assert error.status == 404
    assert error.error == "secret NEVER_SET not found"
    assert error.request_id
    assert "404" in str(error)
    assert f"DELETE {SECRETS_PATH}/NEVER_SET" in str(error)


async def test_get_app_answers_the_app_and_an_unknown_app_is_not_found(fly: FlyClient, fly_sandbox: FlySandbox) -> None:
    app = await fly.get_app(FLY_APP)

    assert app.name == FLY_APP
    assert app.organization is not None
    assert app.organization.slug == "personal"
    assert fly_sandbox.url is not None
    async with FlyClient(fly_sandbox.url, FLY_PERSONAL_TOKEN) as org_wide:
        with pytest.raises(FlyNotFound) as caught:
            await org_wide.get_app("no-such-app")
    assert not isinstance(caught.value, FlySecretNotFound)


@pytest.mark.parametrize(
    ("token", "sent"),
    [
        pytest.param(FLY_TOKEN, f"FlyV1 {FLY_TOKEN}", id="macaroon-gets-FlyV1"),
        pytest.param(f"FlyV1 {FLY_TOKEN}", f"FlyV1 {FLY_TOKEN}", id="already-prefixed-passes-through"),
        pytest.param(FLY_PERSONAL_TOKEN, f"Bearer {FLY_PERSONAL_TOKEN}", id="other-token-gets-Bearer"),
        pytest.param(f"Bearer {FLY_TOKEN}", f"Bearer {FLY_TOKEN}", id="explicit-Bearer-passes-through"),
    ],
)
async def test_the_token_scheme_is_passed_through_and_the_sandbox_accepts_both(
    fly_sandbox: FlySandbox, token: str, sent: str
) -> None:
    assert fly_sandbox.url is not None
    async with FlyClient(fly_sandbox.url, token) as client:
        app = await client.get_app(FLY_APP)

    assert app.name == FLY_APP
    assert fly_sandbox.requests[-1].authorization == sent
    assert fly_authorization(token) == sent


async def test_a_bad_token_is_an_auth_error_at_once(
    fly_sandbox: FlySandbox, retry: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad_token = "fm2_revokedTokenThatMustNotLeak"
    assert fly_sandbox.url is not None
    async with FlyClient(fly_sandbox.url, bad_token, retry=retry) as client:
        with pytest.raises(FlyAuthError) as caught:
            await client.list_secrets(FLY_APP)

    assert caught.value.status == 401
    assert caught.value.request_id
    assert len(fly_sandbox.requests) == 1
    assert_no_secrets([bad_token, *SECRETS], records=caplog.records, errors=[caught.value])


async def test_a_token_of_another_app_is_an_auth_error(fly: FlyClient) -> None:
    with pytest.raises(FlyAuthError):
        await fly.get_app("someone-elses-app")


async def test_rate_limits_are_retried_with_backoff_when_fly_names_no_wait(
    fly: FlyClient, fly_sandbox: FlySandbox, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fly_sandbox.inject(Fault.rate_limited(), times=2)

    secrets = await fly.list_secrets(FLY_APP)

    assert secrets == []
    assert fake_time.sleeps == [0.25, 0.5]
    retries = [record for record in caplog.records if record.name == "controller.httpclient"]
    assert [(r.__dict__["service"], r.__dict__["http_status"], r.__dict__["wait_seconds"]) for r in retries] == [
        ("Fly", "429", 0.25),
        ("Fly", "429", 0.5),
    ]
    assert all(r.__dict__["http_path"] == SECRETS_PATH for r in retries)
    assert_no_secrets(SECRETS, records=caplog.records)


async def test_a_retry_after_from_fly_is_honoured_in_seconds(
    fly: FlyClient, fly_sandbox: FlySandbox, fake_time: FakeTime
) -> None:
    fly_sandbox.inject(Fault.rate_limited(wait=3))

    await fly.get_app(FLY_APP)

    assert fake_time.sleeps == [3.0]


async def test_a_rate_limit_that_never_ends_gives_up_after_max_attempts(
    fly: FlyClient, fly_sandbox: FlySandbox, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fly_sandbox.inject(Fault.rate_limited(), times=None)

    with pytest.raises(FlyRateLimited) as caught:
        await fly.set_secret(FLY_APP, "TOKEN", SECRET_VALUE)

    assert len(fly_sandbox.requests) == 4
    assert fake_time.sleeps == [0.25, 0.5, 1.0]
    assert caught.value.temporary
    assert "gave up after 4 attempts" in str(caught.value)
    assert fly_sandbox.apps[FLY_APP].secrets == {}
    assert_no_secrets([SECRET_VALUE, *SECRETS], records=caplog.records, errors=[caught.value])


async def test_a_rate_limit_is_retried_even_for_a_delete_because_fly_did_not_act(
    fly: FlyClient, fly_sandbox: FlySandbox
) -> None:
    await fly.set_secret(FLY_APP, "TOKEN", SECRET_VALUE)
    fly_sandbox.inject(Fault.rate_limited(method="DELETE"))

    assert await fly.delete_secret(FLY_APP, "TOKEN") == 2


async def test_a_server_error_after_fly_deleted_is_not_retried(fly: FlyClient, fly_sandbox: FlySandbox) -> None:
    await fly.set_secret(FLY_APP, "TOKEN", SECRET_VALUE)
    fly_sandbox.inject(Fault.unavailable(502, after_handler=True, method="DELETE"))

    with pytest.raises(FlyUnavailable) as caught:
        await fly.delete_secret(FLY_APP, "TOKEN")

    assert caught.value.status == 502
    assert len(fly_sandbox.requests_to("DELETE", f"{SECRETS_PATH}/TOKEN")) == 1
    assert fly_sandbox.apps[FLY_APP].secrets == {}, "the sandbox acted before failing, as the fault says"


async def test_a_lost_answer_to_a_delete_is_not_retried(fly: FlyClient, fly_sandbox: FlySandbox) -> None:
    await fly.set_secret(FLY_APP, "TOKEN", SECRET_VALUE)
    fly_sandbox.inject(Fault.disconnect(after_handler=True, method="DELETE"))

    with pytest.raises(FlyUnavailable) as caught:
        await fly.delete_secret(FLY_APP, "TOKEN")

    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert len(fly_sandbox.requests_to("DELETE", f"{SECRETS_PATH}/TOKEN")) == 1


async def test_an_idempotent_set_is_retried_after_a_server_error_and_a_lost_answer(
    fly: FlyClient, fly_sandbox: FlySandbox, fake_time: FakeTime
) -> None:
    fly_sandbox.inject(Fault.unavailable(503, after_handler=True, method="POST"))
    fly_sandbox.inject(Fault.disconnect(after_handler=True, method="POST"))

    version = await fly.set_secret(FLY_APP, "TOKEN", SECRET_VALUE)

    assert version == 3, "written three times, the same value each time"
    assert len(fake_time.sleeps) == 2
    assert fly_sandbox.apps[FLY_APP].secrets["TOKEN"].value == SECRET_VALUE


async def test_an_unreachable_fly_is_retried_even_for_a_delete_and_then_unavailable(
    retry: RetryPolicy, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FlySandbox().running() as url:
        pass  # a port that was just free and is now closed: connections are refused
    async with FlyClient(url, FLY_TOKEN, retry=retry) as client:
        with pytest.raises(FlyUnavailable) as caught:
            await client.delete_secret(FLY_APP, "TOKEN")

    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert fake_time.sleeps == [0.25, 0.5, 1.0]
    assert "never reached the server" in str(caught.value)
    assert_no_secrets(SECRETS, records=caplog.records, errors=[caught.value])


async def test_an_unexpected_body_is_a_fly_error_naming_fields_not_values(fly_sandbox: FlySandbox) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"secrets": [{"name": "X", "value": SECRET_VALUE}]}, request=request)

    async with FlyClient("http://fly.invalid", FLY_TOKEN, transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(FlyError) as caught:
            await client.list_secrets(FLY_APP)

    assert "secrets.0.digest" in str(caught.value)
    assert_no_secrets([SECRET_VALUE, FLY_TOKEN], errors=[caught.value])


async def test_a_name_that_is_not_an_environment_variable_is_refused_before_sending(
    fly: FlyClient, fly_sandbox: FlySandbox
) -> None:
    with pytest.raises(ValueError, match="environment variable") as caught:
        await fly.set_secret(FLY_APP, SECRET_VALUE, "a value pasted as the name")

    assert SECRET_VALUE not in str(caught.value)
    assert fly_sandbox.requests == []
