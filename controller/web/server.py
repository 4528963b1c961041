"""The `ai-implement api` process: open every dependency once, serve, close everything on the way out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Final

import httpx
from aiohttp import web

from controller import constants
from controller.clock import Clock, utc_now
from controller.config import Settings
from controller.config.overrides import read_service_account_namespace, resolve_namespace
from controller.gc_tuning import tune_for_serving
from controller.github import GitHubClient
from controller.kube import PROJECT_MAPPINGS, Informer, KubeClient, KubeConnection, load_connection
from controller.metrics.exposition import metrics_app
from controller.runners.identity import IdentityVerifier
from controller.secrets import KubernetesSecretBackend
from controller.store import Store, database_url_from_settings, redact_database_url, upgrade_database
from controller.ticketing.clients import TicketingClients, open_ticketing_clients
from controller.web.admin_tokens import AdminTokens, new_installation_secret
from controller.web.app import build_app
from controller.web.context import CONTEXT, WebContext
from controller.web.identity import IdentityProbe

logger = logging.getLogger("controller.web")

METRICS_HOST: Final = "0.0.0.0"  # noqa: S104 - scraped by Prometheus from outside the pod

RESTART_BOUND_SETTINGS = (constants.SETTING_FLY_SESSIONS_APP, constants.SETTING_FLY_SESSIONS_REGION)


def ticketing_probes(clients: TicketingClients) -> dict[str, IdentityProbe]:
    """One "who am I" call per configured provider."""
    probes: dict[str, IdentityProbe] = {}
    linear, jira = clients.linear, clients.jira
    if linear is not None:

        async def linear_identity() -> str:
            return (await linear.viewer()).name

        probes["linear"] = linear_identity
    if jira is not None:

        async def jira_identity() -> str:
            return (await jira.myself()).display_name

        probes["jira"] = jira_identity
    return probes


@asynccontextmanager
async def open_web_context(
    settings: Settings, *, clock: Clock = utc_now, connection: KubeConnection | None = None
) -> AsyncIterator[WebContext]:
    """Every dependency of the API server, opened in order and closed in reverse, even after errors."""
    url = database_url_from_settings(settings)
    logger.info("migrating the store at %s", redact_database_url(url))
    await upgrade_database(url)
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(Store.from_url(url))
        namespace = resolve_namespace(settings, read_service_account_namespace())
        kube = await stack.enter_async_context(KubeClient(connection or load_connection()))
        mappings = await stack.enter_async_context(Informer(kube, PROJECT_MAPPINGS, namespace))
        admin_tokens = None
        if settings.admin_access_code is not None:
            installation = await store.setting_or_initialise(
                constants.SETTING_ADMIN_TOKEN_SECRET, new_installation_secret(), clock()
            )
            admin_tokens = AdminTokens(
                access_code=settings.admin_access_code.get_secret_value(),
                installation_secret=bytes.fromhex(str(installation.value)),
            )
        ticketing = await open_ticketing_clients(settings, stack)
        stored_at_start = {}
        for key in RESTART_BOUND_SETTINGS:
            stored = await store.get_setting(key)
            stored_at_start[key] = stored.value if stored is not None and isinstance(stored.value, str) else None
        yield WebContext(
            settings=settings,
            store=store,
            kube=kube,
            namespace=namespace,
            mappings=mappings,
            admin_tokens=admin_tokens,
            secrets=KubernetesSecretBackend(kube, namespace),
            clock=clock,
            jira=ticketing.jira,
            tickets=ticketing.sources(),
            ticketing_probes=ticketing_probes(ticketing),
            stored_at_start=stored_at_start,
            identity=await _identity_verifier(settings, stack),
            github=await _github_client(settings, stack),
        )


async def _identity_verifier(settings: Settings, stack: AsyncExitStack) -> IdentityVerifier | None:
    """The OIDC issuers whose runs may trade identity tokens for callback tokens, if callbacks are on."""
    if settings.runner_callback_base_url is None:
        return None
    issuers = {settings.github_oidc_issuer: "github-actions"}
    if settings.fly_oidc_issuer is not None:
        issuers[settings.fly_oidc_issuer] = "fly-machines"
    http = await stack.enter_async_context(httpx.AsyncClient(timeout=httpx.Timeout(10.0)))
    return IdentityVerifier(issuers, settings.runner_callback_base_url, http=http)


async def _github_client(settings: Settings, stack: AsyncExitStack) -> GitHubClient | None:
    """The GitHub App's client, when GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY are set."""
    if settings.github_app_id is None or settings.github_app_private_key is None:
        return None
    client = GitHubClient(
        settings.github_app_id, settings.github_app_private_key.get_secret_value(), base_url=settings.github_api_url
    )
    return await stack.enter_async_context(client)


def create_app(settings: Settings, connection: KubeConnection | None = None) -> web.Application:
    """The production app: the context opens with the server and closes with it.

    `connection`: the API server as the command already found it (else KUBECONFIG, in-cluster, …).
    """
    app = build_app()

    async def context_lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with open_web_context(settings, connection=connection) as context:
            app[CONTEXT] = context
            tune_for_serving()
            yield

    app.cleanup_ctx.append(context_lifecycle)
    return app


class MetricsPortUnavailable(RuntimeError):
    """METRICS_PORT could not be bound; the message names the port and the cause."""


def serve_metrics_on(port: int) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that serves /metrics on `port` (all interfaces) for as long as the app runs."""

    async def metrics_server(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(metrics_app(), access_log=None)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, METRICS_HOST, port).start()
            except OSError as error:
                raise MetricsPortUnavailable(f"cannot serve /metrics on METRICS_PORT={port}: {error}") from error
            logger.info("serving /metrics on port %d", port)
            yield
        finally:
            await runner.cleanup()

    return metrics_server


def run_api(settings: Settings, connection: KubeConnection | None = None) -> None:
    """Serve until SIGINT or SIGTERM on 0.0.0.0:PORT, and /metrics on 0.0.0.0:METRICS_PORT."""
    app = create_app(settings, connection)
    app.cleanup_ctx.insert(0, serve_metrics_on(settings.metrics_port))  # a taken port fails before migrating
    web.run_app(app, port=settings.port, access_log=None, print=None)
