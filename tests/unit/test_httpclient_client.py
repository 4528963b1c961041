"""The shared client base on httpx's MockTransport (no sockets): errors, redaction, timeouts, logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

import httpx
import pytest

from controller.httpclient import (
    USER_AGENT,
    AuthorizationHeader,
    CallDescription,
    RetryPolicy,
    ServiceClient,
    ServiceError,
    Timeouts,
)

TOKEN = "tok_example_secret_123"


class ExampleError(ServiceError):
    pass


class ExampleUnavailable(ExampleError):
    temporary: ClassVar[bool] = True


class ExampleClient(ServiceClient):
    """The smallest service: its error body is the plain text of the response."""

    service: ClassVar[str] = "Example"
    error_class: ClassVar[type[ServiceError]] = ExampleError
    unavailable_class: ClassVar[type[ServiceError]] = ExampleUnavailable

    async def ping(self, *, idempotent: bool = True) -> httpx.Response:
        return await self._send("GET", "ping", idempotent=idempotent, params={"token": "query-is-not-logged"})

    def _error_for_response(
        self, response: httpx.Response, call: CallDescription, *, retry_after: float | None, note: str | None
    ) -> ServiceError:
        error_class = ExampleUnavailable if response.status_code >= 500 else ExampleError
        return error_class(
            f"{call}: {self._excerpt(response)} ({note})", status=response.status_code, retry_after=retry_after
        )


def client(answer: Callable[[httpx.Request], httpx.Response], sleeps: list[float] | None = None) -> ExampleClient:
    async def sleep(seconds: float) -> None:
        (sleeps if sleeps is not None else []).append(seconds)

    return ExampleClient(
        "https://example.invalid/api",
        authorization=f"Bearer {TOKEN}",
        transport=httpx.MockTransport(answer),
        retry=RetryPolicy(sleep=sleep, random=lambda: 0.5, clock=lambda: 0.0),
        secrets=(TOKEN,),
    )


async def test_requests_carry_auth_user_agent_and_the_base_path() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with client(answer) as example:
        await example.ping()

    assert str(seen[0].url) == "https://example.invalid/api/ping?token=query-is-not-logged"
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["User-Agent"] == USER_AGENT


async def test_a_body_that_echoes_the_token_is_redacted() -> None:
    async with client(lambda request: httpx.Response(400, text=f"bad token {TOKEN}")) as example:
        with pytest.raises(ExampleError) as caught:
            await example.ping()

    assert TOKEN not in str(caught.value)
    assert "[redacted]" in str(caught.value)


async def test_a_transport_failure_that_no_retry_fixes_is_permanent() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.UnsupportedProtocol("no", request=request)

    async with client(answer) as example:
        with pytest.raises(ExampleError) as caught:
            await example.ping()

    assert type(caught.value) is ExampleError
    assert not caught.value.temporary
    assert isinstance(caught.value.__cause__, httpx.UnsupportedProtocol)


async def test_a_read_timeout_is_retried_only_for_idempotent_calls() -> None:
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadTimeout("slow", request=request)

    async with client(answer) as example:
        with pytest.raises(ExampleUnavailable):
            await example.ping(idempotent=False)
        assert len(calls) == 1
        with pytest.raises(ExampleUnavailable) as caught:
            await example.ping(idempotent=True)
    assert len(calls) == 5
    assert caught.value.temporary


async def test_each_retry_is_logged_with_path_and_wait_but_no_query_or_header(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="controller.httpclient")
    answers = iter([httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(200)])
    sleeps: list[float] = []

    async with client(lambda request: next(answers), sleeps) as example:
        await example.ping()

    [record] = caplog.records
    assert record.name == "controller.httpclient"
    assert record.levelno == logging.WARNING
    assert (record.__dict__["http_path"], record.__dict__["http_status"], record.__dict__["wait_seconds"]) == (
        "/api/ping",
        "503",
        2.0,
    )
    assert "query-is-not-logged" not in record.getMessage()
    assert TOKEN not in repr(vars(record))
    assert sleeps == [2.0]


def test_reprs_show_no_credentials() -> None:
    example = client(lambda request: httpx.Response(200))

    assert TOKEN not in repr(example)
    assert TOKEN not in repr(AuthorizationHeader(f"Bearer {TOKEN}"))


@pytest.mark.parametrize("base_url", ["ftp://example.invalid", "example.invalid/api", "http://"])
def test_a_base_url_that_is_not_http_is_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        ExampleClient(base_url, authorization=None)


def test_timeouts_are_per_phase() -> None:
    timeout = Timeouts(connect=1, read=2, write=3, pool=4).as_httpx()

    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (1, 2, 3, 4)
