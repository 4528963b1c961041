"""Fixtures for the real API app over HTTP, on the real API server and each database, with a moved clock.

Loaded as a pytest plugin by tests/conftest.py so that every tier can start the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from controller.config import load_settings
from controller.github import GitHubClient
from controller.kube import PROJECT_MAPPINGS, Informer, KubeClient, KubeConnection
from controller.runners.identity import IdentityVerifier
from controller.secrets import KubernetesSecretBackend, SecretBackend
from controller.store import Store
from controller.ticketing.model import Provider, TicketSource
from controller.web.admin_tokens import AdminTokens
from controller.web.app import init_app
from controller.web.context import WebContext
from controller.web.identity import IdentityProbe
from tests.support.clock import FakeClock

ACCESS_CODE = "correct-horse-battery-staple"
INSTALLATION_SECRET = bytes.fromhex("00" * 31 + "01")


@dataclass
class Api:
    """One running app and what it was built from, for assertions behind the HTTP surface."""

    client: TestClient[Any, Any]
    context: WebContext

    async def login(self, code: str = ACCESS_CODE) -> dict[str, str]:
        response = await self.client.post("/api/auth", json={"code": code})
        assert response.status == 200, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['token']}"}


ApiFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def start_api(kube: KubeClient, namespace: str, store: Store, clock: FakeClock) -> AsyncIterator[ApiFactory]:
    """Starts apps on demand: `await start_api(env={...})`; several may share the store, like replicas."""
    async with AsyncExitStack() as stack:

        async def start(
            env: dict[str, str] | None = None,
            *,
            secrets: SecretBackend | None = None,
            probes: dict[str, IdentityProbe] | None = None,
            stored_at_start: dict[str, str | None] | None = None,
            identity: IdentityVerifier | None = None,
            port: int | None = None,
            github: GitHubClient | None = None,
            tickets: dict[Provider, TicketSource] | None = None,
            kube_connection: KubeConnection | None = None,
        ) -> Api:
            """`kube_connection` points the app at another API server, one that may never answer."""
            environ = {"ADMIN_ACCESS_CODE": ACCESS_CODE, **(env or {})}
            settings = load_settings({k: v for k, v in environ.items() if v is not None}, env_file=None)
            client_of_app = kube
            if kube_connection is not None:
                client_of_app = await stack.enter_async_context(KubeClient(kube_connection))
            informer = await stack.enter_async_context(Informer(client_of_app, PROJECT_MAPPINGS, namespace))
            if kube_connection is None:
                assert await informer.wait_synced(10)
            code = settings.admin_access_code
            context = WebContext(
                settings=settings,
                store=store,
                kube=client_of_app,
                namespace=namespace,
                mappings=informer,
                admin_tokens=None
                if code is None
                else AdminTokens(access_code=code.get_secret_value(), installation_secret=INSTALLATION_SECRET),
                secrets=secrets or KubernetesSecretBackend(client_of_app, namespace),
                clock=clock,
                ticketing_probes=probes or {},
                stored_at_start=stored_at_start or {},
                identity=identity,
                github=github,
                tickets=tickets or {},
            )
            client: TestClient[Any, Any] = await stack.enter_async_context(
                TestClient(TestServer(init_app(context), port=port))
            )
            return Api(client=client, context=context)

        yield start


@pytest.fixture
async def api(start_api: ApiFactory) -> Api:
    """The app with the admin API enabled and everything else at its defaults."""
    return await start_api()
