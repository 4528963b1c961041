"""Each failure becomes the exception callers decide by: the API server's Status, or a broken proxy's page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from controller import constants
from controller.kube import (
    PROJECT_MAPPINGS,
    SECRETS,
    AlreadyExistsError,
    ConflictError,
    ForbiddenError,
    GoneError,
    InvalidError,
    KubeApiError,
    KubeClient,
    KubeUnavailableError,
    NotFoundError,
    StatusCause,
    UnauthorizedError,
    connection_to,
)
from controller.kube.errors import error_from_status


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (400, "BadRequest", KubeApiError),
        (401, "Unauthorized", UnauthorizedError),
        (403, "Forbidden", ForbiddenError),
        (404, "NotFound", NotFoundError),
        (409, "Conflict", ConflictError),
        (409, "AlreadyExists", AlreadyExistsError),
        (410, "Expired", GoneError),
        (422, "Invalid", InvalidError),
        (429, "TooManyRequests", KubeUnavailableError),
        (500, "InternalError", KubeUnavailableError),
        (503, "ServiceUnavailable", KubeUnavailableError),
        (504, "Timeout", KubeUnavailableError),
    ],
)
def test_each_status_code_has_its_class(code: int, reason: str, expected: type[KubeApiError]) -> None:
    error = error_from_status({"kind": "Status", "code": code, "reason": reason, "message": "said so"})

    assert type(error) is expected
    assert (error.status_code, error.reason, error.message) == (code, reason, "said so")


def test_causes_are_kept_and_the_http_status_fills_in_a_missing_code() -> None:
    status = {
        "kind": "Status",
        "reason": "Invalid",
        "message": 'ProjectMapping "eng" is invalid',
        "details": {"causes": [{"reason": "FieldValueInvalid", "message": "bad", "field": "spec.teamKey"}]},
    }

    error = error_from_status(status, status_code=422)

    assert isinstance(error, InvalidError)
    assert error.causes == (StatusCause(reason="FieldValueInvalid", message="bad", field="spec.teamKey"),)


def test_a_status_without_a_message_still_says_what_happened() -> None:
    error = error_from_status({"code": 404, "reason": "NotFound"})

    assert error.message == "the API server answered 404 NotFound"


async def misbehaving_proxy_watch(request: web.Request) -> web.StreamResponse:
    """One event split across writes, then a stream cut in the middle of the next one."""
    response = web.StreamResponse()
    await response.prepare(request)
    event = b'{"type":"ADDED","object":{"metadata":{"name":"eng","resourceVersion":"5"}}}\n'
    await response.write(event[:20])
    await response.write(event[20:] + b'{"type":"MODIFIED","obj')
    return response


async def misbehaving_proxy_error_page(request: web.Request) -> web.Response:
    return web.Response(status=502, text="upstream connect error or disconnect/reset before headers")


RELEASE_HANGING_REQUESTS = web.AppKey("release_hanging_requests", asyncio.Event)


async def misbehaving_proxy_hang(request: web.Request) -> web.Response:
    await request.app[RELEASE_HANGING_REQUESTS].wait()
    return web.Response(status=504)


@pytest.fixture
async def proxy() -> AsyncIterator[KubeClient]:
    """Not an API server: what a broken proxy in front of one sends, over real HTTP."""
    app = web.Application()
    app[RELEASE_HANGING_REQUESTS] = asyncio.Event()
    app.router.add_get(f"/apis/{constants.API_VERSION}/namespaces/ns/projectmappings", misbehaving_proxy_watch)
    app.router.add_get("/api/v1/namespaces/ns/secrets/creds", misbehaving_proxy_error_page)
    app.router.add_get("/api/v1/namespaces/ns/secrets/slow", misbehaving_proxy_hang)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        KubeClient(connection_to(str(server.make_url("")))) as client,
    ):
        yield client
        app[RELEASE_HANGING_REQUESTS].set()


async def test_a_watch_cut_mid_event_is_unavailable_after_the_complete_ones(proxy: KubeClient) -> None:
    events = proxy.watch(PROJECT_MAPPINGS, "ns", resource_version="1")

    first = await anext(events)
    with pytest.raises(KubeUnavailableError, match="ended in the middle of an event"):
        await anext(events)

    assert (first.type, first.object["metadata"]["name"], first.resource_version) == ("ADDED", "eng", "5")
    assert first.object["kind"] == constants.PROJECT_MAPPING_KIND


async def test_an_error_page_that_is_not_a_status_is_described(proxy: KubeClient) -> None:
    with pytest.raises(KubeUnavailableError) as raised:
        await proxy.get(SECRETS, "ns", "creds")

    assert raised.value.status_code == 502
    assert "502: upstream connect error" in raised.value.message


async def test_a_request_that_outlasts_the_client_timeout_is_unavailable(proxy: KubeClient) -> None:
    async with KubeClient(proxy.connection, timeout=0.2) as impatient:
        with pytest.raises(KubeUnavailableError, match="/secrets/slow") as raised:
            await impatient.get(SECRETS, "ns", "slow")

    assert raised.value.status_code is None
