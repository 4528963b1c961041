"""POST /runner/credentials, /runner/progress and /runner/result on the real API server and both stores.

Every status code of the callbacks: 501 without RUNNER_TOKEN_SECRET, 401 for missing, forged,
expired, misused and foreign tokens, 409 for a second result or a run that ended, 410 for a
dispatch that is gone, 400/422 for bad bodies; and what each success leaves in the Dispatch.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from controller import constants
from controller.clock import kube_timestamp
from controller.kube import DISPATCHES, PROJECT_MAPPINGS, RUNNER_SESSIONS, KubeClient
from controller.runners.identity import IdentityVerifier
from controller.runners.tokens import RunnerTokenPair, tokens_for_dispatch
from controller.sandbox.base import serve
from controller.sandbox.runs import OidcIssuer
from controller.store import Store
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

SECRET = "runner-token-secret-for-tests-0123456789"
CALLBACK_URL = "https://ai.example.com"
ENV = {"RUNNER_TOKEN_SECRET": SECRET, "RUNNER_CALLBACK_BASE_URL": CALLBACK_URL}
NAME = "eng-1-implementation-1"
REPO = "acme/web"
RUN_ID = 4242


async def create_dispatch(kube: KubeClient, namespace: str, clock: FakeClock, **status: Any) -> dict[str, Any]:
    body = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.DISPATCH_KIND,
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "mapping": "ENG",
            "issue": {"provider": "linear", "id": "uuid-1", "identifier": "ENG-1"},
            "kind": "implementation",
            "iteration": 1,
            "runnerMode": "github-actions",
        },
    }
    created = await kube.create(DISPATCHES, namespace, body)
    running = {
        "phase": "Running",
        "deadlineAt": kube_timestamp(clock.now + timedelta(minutes=90)),
        "startedAt": kube_timestamp(clock.now),
        "runner": {"backend": "github-actions", "id": f"{REPO}/{RUN_ID}"},
    }
    patch = {"status": running | status}
    return await kube.merge_patch(DISPATCHES, namespace, NAME, patch, subresource="status") | {
        "metadata": created["metadata"]
    }


async def record(store: Store, dispatch: dict[str, Any], namespace: str, clock: FakeClock) -> RunnerTokenPair:
    deadline = clock.now + timedelta(minutes=90)
    tokens = tokens_for_dispatch(SECRET, dispatch["metadata"], namespace, deadline)
    for token in (tokens.progress, tokens.result):
        await store.record_runner_token(
            token.jti,
            dispatch_uid=dispatch["metadata"]["uid"],
            purpose=token.purpose.value,
            expires_at=token.expires_at,
            now=clock.now,
        )
    return tokens


@pytest.fixture
async def dispatch(kube: KubeClient, namespace: str, clock: FakeClock) -> dict[str, Any]:
    return await create_dispatch(kube, namespace, clock)


@pytest.fixture
async def tokens(store: Store, dispatch: dict[str, Any], namespace: str, clock: FakeClock) -> RunnerTokenPair:
    return await record(store, dispatch, namespace, clock)


@pytest.fixture
async def callbacks(start_api: ApiFactory) -> Api:
    return await start_api(ENV)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status_of(kube: KubeClient, namespace: str) -> dict[str, Any]:
    status: dict[str, Any] = (await kube.get(DISPATCHES, namespace, NAME)).get("status") or {}
    return status


@pytest.mark.parametrize("path", ["/runner/progress", "/runner/result", "/runner/credentials"])
async def test_callbacks_answer_501_without_a_token_secret(start_api: ApiFactory, path: str) -> None:
    api = await start_api({})

    response = await api.client.post(path, json={}, headers=bearer("anything"))

    assert response.status == 501
    assert "RUNNER_TOKEN_SECRET" in (await response.json())["error"]["message"]


async def test_progress_upserts_steps_by_name_and_beats_the_heart(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str, clock: FakeClock
) -> None:
    headers = bearer(tokens.progress.token)
    started = kube_timestamp(clock.now - timedelta(seconds=30))  # the runner's own clock, a little behind
    first = {"step": {"name": "plan", "status": "running", "startedAt": started}}
    second = {"step": {"name": "implement", "status": "running"}}
    done = {"step": {"name": "plan", "status": "succeeded", "elapsedSeconds": 42.5, "output": {"files": 3}}}

    for body in (first, second, done):
        response = await callbacks.client.post("/runner/progress", json=body, headers=headers)
        assert response.status == 202, await response.text()
    clock.advance(timedelta(minutes=3))
    heartbeat = await callbacks.client.post("/runner/progress", json={}, headers=headers)

    assert heartbeat.status == 202
    assert (await heartbeat.json())["steps"] == 2
    status = await status_of(kube, namespace)
    assert [(step["name"], step["status"]) for step in status["steps"]] == [
        ("plan", "succeeded"),
        ("implement", "running"),
    ]
    assert status["steps"][0]["startedAt"] == started
    assert status["steps"][0]["output"] == {"files": 3}
    assert status["lastProgressAt"] == kube_timestamp(clock.now)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "token_missing"),
        ({"Authorization": "Basic abc"}, "token_missing"),
        (bearer("not-a-token"), "token_invalid"),
    ],
    ids=["missing", "wrong-scheme", "garbage"],
)
async def test_progress_without_a_valid_token_is_401(
    callbacks: Api, tokens: RunnerTokenPair, headers: dict[str, str], code: str
) -> None:
    response = await callbacks.client.post("/runner/progress", json={}, headers=headers)

    assert response.status == 401
    assert (await response.json())["error"]["code"] == code


async def test_tokens_only_serve_their_own_purpose(callbacks: Api, tokens: RunnerTokenPair) -> None:
    as_progress = await callbacks.client.post("/runner/progress", json={}, headers=bearer(tokens.result.token))
    as_result = await callbacks.client.post(
        "/runner/result", json={"outcome": "succeeded"}, headers=bearer(tokens.progress.token)
    )

    assert (as_progress.status, as_result.status) == (401, 401)
    assert "not a progress token" in (await as_progress.json())["error"]["message"]


async def test_an_expired_token_is_401(callbacks: Api, tokens: RunnerTokenPair, clock: FakeClock) -> None:
    clock.advance(timedelta(hours=3))

    response = await callbacks.client.post("/runner/progress", json={}, headers=bearer(tokens.progress.token))

    assert response.status == 401
    assert "expired" in (await response.json())["error"]["message"]


async def test_a_token_the_ledger_does_not_know_is_401(
    callbacks: Api, dispatch: dict[str, Any], namespace: str, clock: FakeClock
) -> None:
    unrecorded = tokens_for_dispatch(SECRET, dispatch["metadata"], namespace, clock.now + timedelta(minutes=90))

    response = await callbacks.client.post("/runner/progress", json={}, headers=bearer(unrecorded.progress.token))

    assert response.status == 401


async def test_a_token_of_an_earlier_dispatch_with_the_same_name_is_foreign(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str, clock: FakeClock
) -> None:
    await kube.delete(DISPATCHES, namespace, NAME)
    await create_dispatch(kube, namespace, clock)

    response = await callbacks.client.post("/runner/progress", json={}, headers=bearer(tokens.progress.token))

    assert response.status == 401
    assert "earlier dispatch" in (await response.json())["error"]["message"]


async def test_callbacks_for_a_deleted_dispatch_are_410(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str
) -> None:
    await kube.delete(DISPATCHES, namespace, NAME)

    response = await callbacks.client.post("/runner/progress", json={}, headers=bearer(tokens.progress.token))

    assert response.status == 410


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"step": {"name": "plan", "status": "exploded"}}', 422),
        (b'{"step": {"status": "running"}}', 422),
        (b'{"step": {"name": "x", "status": "running", "output": {"big": "' + b"x" * 66000 + b'"}}}', 422),
    ],
    ids=["not-json", "unknown-status", "no-name", "output-too-big"],
)
async def test_bad_progress_bodies_are_refused_and_change_nothing(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str, body: bytes, status: int
) -> None:
    headers = bearer(tokens.progress.token) | {"Content-Type": "application/json"}

    response = await callbacks.client.post("/runner/progress", data=body, headers=headers)

    assert response.status == status
    assert "steps" not in await status_of(kube, namespace)


async def test_a_runner_that_reports_too_much_leaves_a_bounded_status(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str
) -> None:
    """100 steps, each with a 16 KiB message and a 60 KiB output: the status keeps 64, cut, and counts the rest."""
    headers = bearer(tokens.progress.token)
    for number in range(100):
        step = {
            "name": f"step-{number:03d}",
            "status": "succeeded",
            "message": "m" * 16_000,
            "output": {"log": "o" * 60_000},
        }
        response = await callbacks.client.post("/runner/progress", json={"step": step}, headers=headers)
        assert response.status == 202, await response.text()

    dispatch = await kube.get(DISPATCHES, namespace, NAME)
    status = dispatch["status"]
    assert len(status["steps"]) == 64
    assert status["stepsOmitted"] == 36
    assert [step["name"] for step in status["steps"]][:2] == ["step-036", "step-037"], "the oldest went first"
    last = status["steps"][-1]
    assert last["message"].endswith("[truncated]")
    assert len(last["message"]) == 1024
    assert last["output"]["truncated"] is True
    assert last["output"]["bytes"] > 60_000
    assert len(json.dumps(dispatch)) < 400 * 1024, "far below etcd's 1.5 MiB"


USAGE = {
    "inputTokens": 1200,
    "outputTokens": 340,
    "cacheReadTokens": 9000,
    "cacheCreationTokens": 800,
    "costUsd": 0.0912,
    "model": "claude-sonnet-4-5",
}


async def test_a_result_carries_what_the_agent_used(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str
) -> None:
    body = {"outcome": "succeeded", "usage": USAGE}
    response = await callbacks.client.post("/runner/result", json=body, headers=bearer(tokens.result.token))

    assert response.status == 200, await response.text()
    assert (await status_of(kube, namespace))["result"]["usage"] == USAGE


@pytest.mark.parametrize(
    "usage",
    [{"inputTokens": -1}, {"costUsd": "cheap"}, {"outputTokens": 10**13}, {"tokens": 3}, {"model": ""}],
    ids=["negative", "not-a-number", "absurd", "unknown-field", "empty-model"],
)
async def test_a_result_with_unreadable_usage_is_refused_and_keeps_its_token(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str, usage: dict[str, object]
) -> None:
    headers = bearer(tokens.result.token)
    refused = await callbacks.client.post(
        "/runner/result", json={"outcome": "succeeded", "usage": usage}, headers=headers
    )
    assert refused.status == 422
    assert "usage" in (await refused.text())
    assert "result" not in await status_of(kube, namespace)
    retried = await callbacks.client.post("/runner/result", json={"outcome": "succeeded"}, headers=headers)
    assert retried.status == 200, "a refused body does not spend the token"


async def test_a_result_is_recorded_once_and_a_second_changes_nothing(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str
) -> None:
    headers = bearer(tokens.result.token)
    success = {"outcome": "succeeded", "summary": "All done."}

    first = await callbacks.client.post("/runner/result", json=success, headers=headers)
    second = await callbacks.client.post(
        "/runner/result", json={"outcome": "failed", "error": {"message": "late"}}, headers=headers
    )

    assert first.status == 200, await first.text()
    assert second.status == 409
    result = (await status_of(kube, namespace))["result"]
    assert (result["outcome"], result["summary"]) == ("succeeded", "All done.")


async def test_concurrent_results_are_accepted_exactly_once(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str
) -> None:
    headers = bearer(tokens.result.token)
    bodies = [{"outcome": "failed", "error": {"reason": f"Attempt{i}", "message": str(i)}} for i in range(6)]

    responses = await asyncio.gather(
        *(callbacks.client.post("/runner/result", json=body, headers=headers) for body in bodies)
    )

    assert sorted(response.status for response in responses) == [200, 409, 409, 409, 409, 409]
    winner = next(i for i, response in enumerate(responses) if response.status == 200)
    assert (await status_of(kube, namespace))["result"]["error"]["reason"] == f"Attempt{winner}"


async def test_a_failure_without_details_gets_a_default_error(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str
) -> None:
    response = await callbacks.client.post(
        "/runner/result", json={"outcome": "failed"}, headers=bearer(tokens.result.token)
    )

    assert response.status == 200
    assert (await status_of(kube, namespace))["result"]["error"] == {
        "reason": "RunnerFailed",
        "message": "the runner reported a failure without details",
    }


async def test_a_refused_result_body_does_not_spend_the_token(
    callbacks: Api, tokens: RunnerTokenPair, kube: KubeClient, namespace: str
) -> None:
    headers = bearer(tokens.result.token)

    refused = await callbacks.client.post(
        "/runner/result", json={"outcome": "succeeded", "pullRequestUrl": "ftp://x"}, headers=headers
    )
    accepted = await callbacks.client.post("/runner/result", json={"outcome": "succeeded"}, headers=headers)

    assert (refused.status, accepted.status) == (422, 200)


@pytest.mark.parametrize(
    "ended",
    [{"phase": "Failed"}, {"phase": "Succeeded"}, {"phase": "TimedOut", "closedAt": "2026-01-01T00:00:00Z"}],
    ids=["failed", "succeeded", "timed-out-and-closed"],
)
async def test_a_run_that_ended_takes_no_more_callbacks(
    callbacks: Api, store: Store, kube: KubeClient, namespace: str, clock: FakeClock, ended: dict[str, str]
) -> None:
    dispatch = await create_dispatch(kube, namespace, clock, **ended)
    tokens = await record(store, dispatch, namespace, clock)

    progress = await callbacks.client.post("/runner/progress", json={}, headers=bearer(tokens.progress.token))
    result = await callbacks.client.post(
        "/runner/result", json={"outcome": "succeeded"}, headers=bearer(tokens.result.token)
    )

    assert (progress.status, result.status) == (409, 409)
    assert await store.consume_runner_token(tokens.result.jti, clock.now) is True


@pytest.mark.parametrize("phase", ["TimedOut", "Cancelled"])
async def test_a_run_the_controller_stopped_still_reports_the_work_it_saved(
    callbacks: Api, store: Store, kube: KubeClient, namespace: str, clock: FakeClock, phase: str
) -> None:
    dispatch = await create_dispatch(kube, namespace, clock, phase=phase)
    tokens = await record(store, dispatch, namespace, clock)
    saved = {
        "outcome": "failed",
        "error": {"reason": "Stopped", "message": "step `implement`: the run was stopped (SIGTERM)"},
        "workInProgressBranch": f"ai-implement/wip/{NAME}",
    }

    result = await callbacks.client.post("/runner/result", json=saved, headers=bearer(tokens.result.token))

    assert result.status == 200, await result.text()
    status = await status_of(kube, namespace)
    assert (status["phase"], status["result"]["workInProgressBranch"]) == (phase, f"ai-implement/wip/{NAME}")


async def test_a_work_in_progress_branch_must_be_the_runs_own_kind(callbacks: Api, tokens: RunnerTokenPair) -> None:
    body = {"outcome": "failed", "workInProgressBranch": "main"}

    result = await callbacks.client.post("/runner/result", json=body, headers=bearer(tokens.result.token))

    assert result.status == 422


# Credentials exchange --------------------------------------------------------------------------


@pytest.fixture
async def issuer() -> AsyncIterator[OidcIssuer]:
    from aiohttp import web

    issuer = OidcIssuer("/oidc")
    app = web.Application()
    issuer.add_routes(app.router)
    async with serve(app) as url:
        issuer.bind(url)
        yield issuer


@pytest.fixture
async def exchange(start_api: ApiFactory, issuer: OidcIssuer) -> AsyncIterator[Api]:
    assert issuer.issuer_url is not None
    async with httpx.AsyncClient() as http:
        verifier = IdentityVerifier({issuer.issuer_url: "github-actions"}, CALLBACK_URL, http=http)
        yield await start_api(ENV, identity=verifier)


SYNCED_WORKFLOW_REF = f"{REPO}/.github/workflows/ai-implement.yml@refs/heads/main"


async def add_eng_mapping(kube: KubeClient, namespace: str, api: Api) -> None:
    """The mapping of the dispatches here, ENG on acme/web (branch main), once the API caches it."""
    mapping = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": "eng", "namespace": namespace},
        "spec": {
            "teamKey": "ENG",
            "ticketing": {"provider": "linear"},
            "source": {"owner": "acme", "repo": "web", "defaultBranch": "main"},
        },
    }
    await kube.create(PROJECT_MAPPINGS, namespace, mapping)
    await eventually(lambda: api.context.mappings.get("eng") is not None)


async def add_session(kube: KubeClient, namespace: str, dispatch: dict[str, Any], api: Api) -> None:
    """The run's RunnerSession, and its mapping as the API caches it."""
    await add_eng_mapping(kube, namespace, api)
    body = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.RUNNER_SESSION_KIND,
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {"dispatch": NAME, "backend": "github-actions", "resourceId": f"{REPO}/{RUN_ID}", "repo": REPO},
    }
    await kube.create(RUNNER_SESSIONS, namespace, body)


def actions_token(issuer: OidcIssuer, *, audience: str = CALLBACK_URL, **claims: Any) -> str:
    base = {
        "repository": REPO,
        "run_id": RUN_ID,
        "event_name": "workflow_dispatch",
        "workflow_ref": SYNCED_WORKFLOW_REF,
    }
    return issuer.mint(base | claims, audience)


async def test_the_run_trades_its_identity_for_the_dispatch_tokens(
    exchange: Api,
    issuer: OidcIssuer,
    dispatch: dict[str, Any],
    kube: KubeClient,
    namespace: str,
    clock: FakeClock,
) -> None:
    await add_session(kube, namespace, dispatch, exchange)

    response = await exchange.client.post(
        "/runner/credentials", json={"dispatch": NAME}, headers=bearer(actions_token(issuer))
    )

    assert response.status == 200, await response.text()
    body = await response.json()
    expected = tokens_for_dispatch(SECRET, dispatch["metadata"], namespace, clock.now + timedelta(minutes=90))
    assert (body["progressToken"], body["resultToken"]) == (expected.progress.token, expected.result.token)
    assert (body["shadow"], body["environment"]) == (False, {})


@pytest.mark.parametrize(
    ("claims", "audience", "why"),
    [
        ({"run_id": 1}, CALLBACK_URL, "another workflow run"),
        ({"repository": "evil/fork"}, CALLBACK_URL, "evil/fork"),
        ({"event_name": "pull_request"}, CALLBACK_URL, "workflow dispatch"),
        ({}, "https://someone-else.example.com", "not valid"),
        ({"workflow_ref": f"{REPO}/.github/workflows/ai-implement.yml@refs/heads/hijack"}, CALLBACK_URL, "hijack"),
        ({"workflow_ref": f"{REPO}/.github/workflows/mine.yml@refs/heads/main"}, CALLBACK_URL, "mine.yml"),
    ],
    ids=["other-run", "other-repo", "other-event", "other-audience", "other-branch", "other-workflow"],
)
async def test_an_identity_that_is_not_the_run_is_401(
    exchange: Api,
    issuer: OidcIssuer,
    dispatch: dict[str, Any],
    kube: KubeClient,
    namespace: str,
    claims: dict[str, Any],
    audience: str,
    why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add_session(kube, namespace, dispatch, exchange)

    response = await exchange.client.post(
        "/runner/credentials",
        json={"dispatch": NAME},
        headers=bearer(actions_token(issuer, audience=audience, **claims)),
    )

    assert response.status == 401
    error = (await response.json())["error"]
    if error["code"] == "not_this_run":  # a valid token of another run: the caller learns nothing more
        assert error["message"] == f"this identity is not the run of dispatch {NAME}"
        assert any(why in record.getMessage() for record in caplog.records), "the operator reads why in the log"
    else:
        assert why in error["message"]


async def test_unknown_ended_and_foreign_dispatches_get_the_same_401(
    exchange: Api, issuer: OidcIssuer, dispatch: dict[str, Any], kube: KubeClient, namespace: str, clock: FakeClock
) -> None:
    """None of them tells a caller with a valid token of some other run whether, or where, a run exists."""
    await add_session(kube, namespace, dispatch, exchange)
    foreign = bearer(actions_token(issuer, repository="evil/fork", run_id=1))

    answers = [await exchange.client.post("/runner/credentials", json={"dispatch": NAME}, headers=foreign)]
    answers.append(
        await exchange.client.post("/runner/credentials", json={"dispatch": "eng-9-implementation-1"}, headers=foreign)
    )
    await kube.merge_patch(DISPATCHES, namespace, NAME, {"status": {"phase": "Succeeded"}}, subresource="status")
    answers.append(
        await exchange.client.post(
            "/runner/credentials", json={"dispatch": NAME}, headers=bearer(actions_token(issuer))
        )
    )

    bodies = [(answer.status, (await answer.json())["error"]["code"]) for answer in answers]
    assert bodies == [(401, "not_this_run")] * 3
    for answer in answers:
        assert REPO not in await answer.text()


@pytest.mark.parametrize(
    "name",
    ["../../../../api/v1/namespaces/default/serviceaccounts/x", "..", "eng/../x", "ENG-1", "a" * 254, ""],
)
async def test_a_dispatch_name_that_is_no_object_name_never_reaches_the_api_server(
    exchange: Api, issuer: OidcIssuer, name: str
) -> None:
    response = await exchange.client.post(
        "/runner/credentials", json={"dispatch": name}, headers=bearer(actions_token(issuer))
    )

    assert response.status == 422
    assert (await response.json())["error"]["details"][0]["field"] == "dispatch"


async def test_a_token_from_an_unknown_issuer_is_401(
    exchange: Api, dispatch: dict[str, Any], kube: KubeClient, namespace: str
) -> None:
    stranger = OidcIssuer("/elsewhere")
    stranger.bind("https://issuer.example.com")

    response = await exchange.client.post(
        "/runner/credentials",
        json={"dispatch": NAME},
        headers=bearer(stranger.mint({"repository": REPO, "run_id": RUN_ID}, CALLBACK_URL)),
    )

    assert response.status == 401
    assert "not accepted" in (await response.json())["error"]["message"]


async def test_a_run_that_asks_before_it_is_recorded_is_told_to_retry(
    exchange: Api, issuer: OidcIssuer, kube: KubeClient, namespace: str, clock: FakeClock
) -> None:
    await create_dispatch(kube, namespace, clock, phase="Starting", runner=None)

    response = await exchange.client.post(
        "/runner/credentials", json={"dispatch": NAME}, headers=bearer(actions_token(issuer))
    )

    assert response.status == 409
    assert response.headers["Retry-After"] == "2"


async def test_an_issuer_whose_keys_cannot_be_read_is_503_and_retryable(
    start_api: ApiFactory, dispatch: dict[str, Any], kube: KubeClient, namespace: str
) -> None:
    unreachable = OidcIssuer("/oidc")
    unreachable.bind("http://127.0.0.1:9")
    async with httpx.AsyncClient() as http:
        verifier = IdentityVerifier({str(unreachable.issuer_url): "github-actions"}, CALLBACK_URL, http=http)
        api = await start_api(ENV, identity=verifier)
        await add_session(kube, namespace, dispatch, api)

        response = await api.client.post(
            "/runner/credentials", json={"dispatch": NAME}, headers=bearer(actions_token(unreachable))
        )

    assert response.status == 503
    assert "could not be read" in (await response.json())["error"]["message"]


async def test_a_rotated_key_is_fetched_again_but_not_more_than_once_a_minute(
    start_api: ApiFactory, issuer: OidcIssuer, dispatch: dict[str, Any], kube: KubeClient, namespace: str
) -> None:
    moment = [0.0]
    async with httpx.AsyncClient() as http:
        verifier = IdentityVerifier(
            {str(issuer.issuer_url): "github-actions"}, CALLBACK_URL, http=http, monotonic=lambda: moment[0]
        )
        api = await start_api(ENV, identity=verifier)
        await add_session(kube, namespace, dispatch, api)

        async def exchange_status() -> int:
            response = await api.client.post(
                "/runner/credentials", json={"dispatch": NAME}, headers=bearer(actions_token(issuer))
            )
            return response.status

        first = await exchange_status()
        rotated = OidcIssuer("/oidc")
        issuer._key, issuer.key_id = rotated._key, rotated.key_id  # the issuer rotates its signing key
        moment[0] = 30.0
        too_soon = await exchange_status()
        moment[0] = 61.0
        refetched = await exchange_status()

    assert (first, too_soon, refetched) == (200, 401, 200)


# A local container proves itself with its progress token; every run reads its brief with it.


async def test_a_local_run_shows_its_progress_token_and_gets_its_credentials(
    callbacks: Api, tokens: RunnerTokenPair
) -> None:
    response = await callbacks.client.post(
        "/runner/credentials", json={"dispatch": NAME}, headers=bearer(tokens.progress.token)
    )

    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["progressToken"], body["resultToken"]) == (tokens.progress.token, tokens.result.token)
    assert body["github"] is None, "no GitHub App here: the run is told, and fails in its checkout step"


@pytest.mark.parametrize("case", ["other-dispatch", "result-token"])
async def test_a_local_proof_that_is_not_this_runs_progress_token_is_401(
    callbacks: Api, tokens: RunnerTokenPair, case: str
) -> None:
    proof, dispatch = tokens.progress.token, NAME
    if case == "other-dispatch":
        dispatch = "eng-2-implementation-1"
    else:
        proof = tokens.result.token

    response = await callbacks.client.post("/runner/credentials", json={"dispatch": dispatch}, headers=bearer(proof))

    assert response.status == 401, await response.text()


async def test_a_local_proof_the_ledger_does_not_know_is_401(
    callbacks: Api, dispatch: dict[str, Any], namespace: str, clock: FakeClock
) -> None:
    unrecorded = tokens_for_dispatch(SECRET, dispatch["metadata"], namespace, clock.now + timedelta(minutes=90))

    response = await callbacks.client.post(
        "/runner/credentials", json={"dispatch": NAME}, headers=bearer(unrecorded.progress.token)
    )

    assert response.status == 401, await response.text()


async def test_the_brief_carries_the_ticket_and_the_plan_of_its_planning_run(
    callbacks: Api, tokens: RunnerTokenPair, store: Store, clock: FakeClock
) -> None:
    await store.append_dispatch_log(
        now=clock.now,
        issue_id="uuid-1",
        identifier="ENG-1",
        title="Dark mode",
        team_key="ENG",
        repo=REPO,
        kind="planning",
        iteration=1,
        runner_mode="github-actions",
        session_image="runner:1",
        status="running",
        dispatch_name="eng-1-planning-1",
    )
    await store.update_dispatch_status("eng-1-planning-1", "succeeded", summary="## Plan\n\n1. Do it.")

    response = await callbacks.client.get("/runner/brief", headers=bearer(tokens.progress.token))

    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["ticket"]["identifier"] == "ENG-1"
    assert body["ticket"]["description"] is None
    assert body["warnings"] == ["linear is not configured on the controller: the description is missing"]
    assert body["plan"] == "## Plan\n\n1. Do it."
    assert (body["kind"], body["feedback"], body["pullRequest"]) == ("implementation", [], None)


async def test_the_brief_takes_only_the_progress_token(callbacks: Api, tokens: RunnerTokenPair) -> None:
    for headers in ({}, bearer(tokens.result.token), bearer("forged")):
        response = await callbacks.client.get("/runner/brief", headers=headers)
        assert response.status == 401, await response.text()
