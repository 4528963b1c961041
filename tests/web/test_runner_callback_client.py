"""The runner's callback client against the real API: it rides out an API that is down, and stops when refused."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from controller.callbacks.client import CallbackClient, CallbackRefused
from controller.kube import DISPATCHES, KubeClient
from controller.runner.main import run_session
from controller.runners.tokens import RunnerTokenPair
from tests.support.api_fixtures import ApiFactory
from tests.support.clock import FakeClock
from tests.web.test_runner_callbacks import ENV, NAME, dispatch, status_of, tokens

__all__ = ["dispatch", "tokens"]  # the fixtures, shared with the endpoint tests


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def reserved_port() -> socket.socket:
    """A port bound but not listening: calls to it are refused, and no other server takes it meanwhile."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    return held


async def test_a_result_sent_while_the_api_is_down_lands_once_it_is_back(
    start_api: ApiFactory,
    tokens: RunnerTokenPair,
    kube: KubeClient,
    namespace: str,
    clock: FakeClock,
    http: httpx.AsyncClient,
) -> None:
    held = reserved_port()
    port = held.getsockname()[1]
    client = CallbackClient(f"http://127.0.0.1:{port}", clock.now + timedelta(minutes=90), http=http)
    sending = asyncio.create_task(client.result(tokens.result.token, {"outcome": "succeeded"}))
    await asyncio.sleep(2.5)  # two refused attempts, backing off
    assert not sending.done()
    held.close()
    await start_api(ENV, port=port)

    await asyncio.wait_for(sending, 30)

    assert (await status_of(kube, namespace))["result"]["outcome"] == "succeeded"
    await client.result(tokens.result.token, {"outcome": "succeeded"})  # an answer lost, sent again: done


async def test_progress_is_dropped_after_a_few_tries_and_the_run_goes_on(
    tokens: RunnerTokenPair, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    with reserved_port() as held:
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        client = CallbackClient(url, clock.now + timedelta(minutes=90), http=http, clock=clock, sleep=sleep)
        delivered = await client.progress(tokens.progress.token, {"name": "plan", "status": "running"})

    assert delivered is False
    assert waited == [1.0, 2.0, 4.0, 8.0]


async def test_a_result_gives_up_when_the_deadline_passes(
    tokens: RunnerTokenPair, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    with reserved_port() as held:
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        client = CallbackClient(url, clock.now + timedelta(minutes=2), http=http, clock=clock, sleep=sleep)
        with pytest.raises(CallbackRefused, match="the run's deadline has passed"):
            await client.result(tokens.result.token, {"outcome": "succeeded"})


async def test_a_run_that_ended_is_told_so_and_stops_reporting(
    start_api: ApiFactory,
    tokens: RunnerTokenPair,
    kube: KubeClient,
    namespace: str,
    clock: FakeClock,
    http: httpx.AsyncClient,
) -> None:
    api = await start_api(ENV)
    await kube.merge_patch(DISPATCHES, namespace, NAME, {"status": {"phase": "Failed"}}, subresource="status")
    client = CallbackClient(str(api.client.make_url("")), clock.now + timedelta(minutes=90), http=http)

    with pytest.raises(CallbackRefused, match="409"):
        await client.progress(tokens.progress.token, None)


async def test_a_runner_whose_environment_is_unusable_still_reports_why(
    start_api: ApiFactory, tokens: RunnerTokenPair, kube: KubeClient, namespace: str
) -> None:
    api = await start_api(ENV)
    environment = {
        "AI_IMPLEMENT_DISPATCH": NAME,
        "AI_IMPLEMENT_CALLBACK_URL": str(api.client.make_url("/")).rstrip("/"),
        "AI_IMPLEMENT_PROGRESS_TOKEN": tokens.progress.token,
        "AI_IMPLEMENT_RESULT_TOKEN": tokens.result.token,
        "AI_IMPLEMENT_KIND": "deploy",
    }

    assert await run_session(environment) == 2

    result = (await status_of(kube, namespace))["result"]
    assert (result["outcome"], result["error"]["reason"]) == ("failed", "BadRunEnvironment")
    assert "AI_IMPLEMENT_KIND='deploy' is not one of" in result["error"]["message"]
    assert "AI_IMPLEMENT_REPO is not set" in result["error"]["message"]
