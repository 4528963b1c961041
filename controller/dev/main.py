"""`ai-implement dev`: the whole product on one machine, without credentials.

A local kube-apiserver and etcd (with the CRDs), SQLite, the Linear, Jira,
GitHub, Fly, Docker and chat sandboxes seeded with sample tickets and repositories, the real runner
program (`controller.sandbox.process_runner`, with the fake agent) for every run the backends start,
the API with the admin UI, and the operator, all configured through the same settings a
deployment uses (the sandboxes' URLs in place of the services', every webhook signed with a
secret made for this run). Once it runs, `controller.dev.story` plays a person's part: it labels
tickets, reviews a pull request and asks for a gap-fill run. Ctrl-C stops everything and
removes the control plane's data; the SQLite file stays in the work directory for a look after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client, config

from controller.config import Settings, load_settings
from controller.dev.seed import (
    AI_LABEL,
    APP_ID,
    FLY_APP,
    FLY_TOKEN,
    JIRA_CLOUD_ID,
    JIRA_PROJECT,
    JIRA_SITE_URL,
    JIRA_TOKEN,
    LINEAR_KEY,
    OWNER,
    SAMPLE_MAPPINGS,
    WebhookSecrets,
    mapping_resource,
    seed_fly,
    seed_github,
    seed_jira,
    seed_linear,
)
from controller.dev.story import DevStory
from controller.devcluster import ControlPlane, ControlPlaneError, install_crds, locate_binaries
from controller.kube import KubeClient, load_connection
from controller.logs import configure_logging
from controller.metrics.exposition import metrics_app
from controller.operator.main import run_operator
from controller.sandbox.chat import ChatSandbox
from controller.sandbox.docker import DockerSandbox
from controller.sandbox.fly import FlySandbox
from controller.sandbox.github import GitHubSandbox
from controller.sandbox.jira import JiraSandbox
from controller.sandbox.linear import LinearSandbox
from controller.sandbox.process_runner import ProcessRunner
from controller.web.server import create_app

logger = logging.getLogger("controller.dev")

NAMESPACE = "default"
LOCAL_IMAGE = "ai-implement-runner:dev"


@dataclass
class Sandboxes:
    linear: LinearSandbox
    jira: JiraSandbox
    github: GitHubSandbox
    fly: FlySandbox
    docker: DockerSandbox
    chat: ChatSandbox
    runner: ProcessRunner
    app_key: rsa.RSAPrivateKey
    webhooks: WebhookSecrets
    story_tickets: tuple[str, str]
    """The Linear and the Jira ticket the story labels after start-up."""


DEFAULT_PORT = 8080


def dev_port(argument: int | None, environ: Mapping[str, str]) -> int:
    """`--port`, else PORT read and checked as a deployment reads it, else 8080."""
    if argument is not None:
        return argument
    if environ.get("PORT"):
        return load_settings({"PORT": environ["PORT"]}, env_file=None).port
    return DEFAULT_PORT


def dev_metrics_port(environ: Mapping[str, str]) -> int:
    """METRICS_PORT read and checked as a deployment reads it, else its default (9090)."""
    return load_settings({"METRICS_PORT": environ.get("METRICS_PORT") or ""}, env_file=None).metrics_port


POLL_INTERVAL_MS = 15_000
"""Long enough that a ticket dispatched within a second of its label was clearly dispatched by its webhook."""


STALL_AFTER_MINUTES = 1
"""A run silent for a minute times out, so the seeded run that hangs shows that ending within the session."""


def api_url_of(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def dev_settings(sandboxes: Sandboxes, *, port: int, metrics_port: int, work_dir: Path, admin_code: str) -> Settings:
    """The settings of a deployment whose services are the sandboxes."""
    environ = dev_environment(sandboxes, port=port, metrics_port=metrics_port, work_dir=work_dir, admin_code=admin_code)
    return load_settings(environ, env_file=None)


def dev_environment(
    sandboxes: Sandboxes, *, port: int, metrics_port: int, work_dir: Path, admin_code: str
) -> dict[str, str]:
    """The environment of a deployment whose services are the sandboxes (tests run processes with it)."""
    key_pem = sandboxes.app_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    api_url = api_url_of(port)
    webhooks = sandboxes.webhooks
    return {
        "AI_IMPLEMENT_ENV": "development",
        "ADMIN_ACCESS_CODE": admin_code,
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "POLL_INTERVAL_MS": str(POLL_INTERVAL_MS),
        "RUNNER_PROGRESS_TIMEOUT_MINUTES": str(STALL_AFTER_MINUTES),
        "DEDUP_DB_PATH": str(work_dir / "dev.sqlite"),
        "AI_IMPLEMENT_NAMESPACE": NAMESPACE,
        "SECRETS_BACKEND": "kubernetes",
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_APP_PRIVATE_KEY": key_pem,
        "GITHUB_API_URL": str(sandboxes.github.url),
        "GITHUB_OIDC_ISSUER": str(sandboxes.github.oidc.issuer_url),
        "LINEAR_API_KEY": LINEAR_KEY,
        "LINEAR_API_URL": f"{sandboxes.linear.url}/graphql",
        "LINEAR_WEBHOOK_SECRET": webhooks.linear,
        "JIRA_TOKEN": JIRA_TOKEN,
        "JIRA_CLOUD_ID": JIRA_CLOUD_ID,
        "JIRA_SITE_URL": JIRA_SITE_URL,
        "JIRA_API_BASE_URL": str(sandboxes.jira.url),
        "JIRA_WEBHOOK_SECRET": webhooks.jira,
        "GITHUB_WEBHOOK_SECRET": webhooks.github,
        "GAP_FILL_TRIGGER_SECRET": webhooks.gap_fill_trigger,
        "FLY_SESSIONS_APP": FLY_APP,
        "FLY_SESSIONS_TOKEN": FLY_TOKEN,
        "FLY_API_BASE_URL": str(sandboxes.fly.url),
        "FLY_OIDC_ISSUER": str(sandboxes.fly.oidc.issuer_url),
        "DOCKER_HOST": str(sandboxes.docker.url),
        "LOCAL_RUNNER_IMAGE": LOCAL_IMAGE,
        "LOCAL_RUNNER_ORCHESTRATOR_URL": api_url,
        "RUNNER_CALLBACK_BASE_URL": api_url,
        "ANTHROPIC_API_KEY": "sk-ant-api03-dev-sandbox-not-a-real-key",
        "RUNNER_TOKEN_SECRET": secrets.token_hex(32),
        "NOTIFY_WEBHOOK_URL": sandboxes.chat.add_slack_hook(),
    }


@asynccontextmanager
async def running_sandboxes(api_url: str, work_dir: Path) -> AsyncIterator[Sandboxes]:
    """Every sandbox seeded and serving; their webhooks go to `api_url` as soon as something changes."""
    async with AsyncExitStack() as stack:
        linear = LinearSandbox(deliver_webhooks_in_background=True)
        jira = JiraSandbox(webhooks_in_background=True)
        github, fly = GitHubSandbox(deliver_webhooks_in_background=True), FlySandbox()
        docker, chat = DockerSandbox(), ChatSandbox(rate_limit=False)
        docker.add_image(LOCAL_IMAGE)
        runner = ProcessRunner(github=github, fly=fly, docker=docker, workroot=work_dir / "runs")
        stack.push_async_callback(runner.aclose)
        for backend in (github, fly, docker):
            backend.on_run_started = runner.on_run_started
        app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        webhooks = WebhookSecrets.generate()
        linear_story = seed_linear(linear, runner, api_url, webhooks.linear)
        jira_story = seed_jira(jira, runner, api_url, webhooks.jira)
        seed_github(github, app_key, api_url, webhooks)
        seed_fly(fly)
        for sandbox in (linear, jira, github, fly, docker, chat):
            await stack.enter_async_context(sandbox.running())
        yield Sandboxes(linear, jira, github, fly, docker, chat, runner, app_key, webhooks, (linear_story, jira_story))


def prepare_cluster(kubeconfig: Path) -> None:
    """The CRDs and the sample mappings."""
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    install_crds(api_client)
    objects = client.CustomObjectsApi(api_client)
    for spec in SAMPLE_MAPPINGS:
        _apply(objects, "ai-implement.dev", "v1alpha1", "projectmappings", mapping_resource(spec, NAMESPACE))


def _apply(objects: client.CustomObjectsApi, group: str, version: str, plural: str, body: dict[str, Any]) -> None:
    objects.patch_namespaced_custom_object(
        group,
        version,
        NAMESPACE,
        plural,
        body["metadata"]["name"],
        body,
        field_manager="ai-implement-dev",
        force=True,
        _content_type="application/apply-patch+yaml",
    )


async def serve_api(settings: Settings, stack: AsyncExitStack) -> None:
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    metrics = web.AppRunner(metrics_app(), access_log=None)
    await metrics.setup()
    stack.push_async_callback(metrics.cleanup)
    await web.TCPSite(metrics, "127.0.0.1", settings.metrics_port).start()


def banner(settings: Settings, admin_code: str, kubeconfig: Path, sandboxes: Sandboxes) -> str:
    url = api_url_of(settings.port)
    repos = [f"{OWNER}/{spec['source']['repo']}" for spec in SAMPLE_MAPPINGS]
    return "\n".join(
        [
            "",
            "AI-Implement is running on this machine, against sandboxes of every external service.",
            f"  Admin UI:     {url}/admin",
            f"  Admin code:   {admin_code}",
            f"  Metrics:      http://127.0.0.1:{settings.metrics_port}/metrics",
            f"  API:          curl -s -X POST {url}/api/auth -H 'Content-Type: application/json' "
            f'-d \'{{"code": "{admin_code}"}}\'',
            f"  kubectl:      export KUBECONFIG={kubeconfig}; kubectl get pmap,disp,rsess",
            f"  Linear:       {sandboxes.linear.url} (teams ENG and OPS)",
            f"  Jira:         {sandboxes.jira.url} (project {JIRA_PROJECT})",
            f"  GitHub:       {sandboxes.github.url} ({', '.join(repos)})",
            "Labelled tickets become Dispatches at the first poll; then the [story] lines label two more",
            "(dispatched by their webhooks), review the first pull request and ask for a gap-fill run.",
            "Ctrl-C stops everything.",
            "",
        ]
    )


async def run_dev(*, port: int, metrics_port: int, work_dir: Path, admin_code: str | None, kubeconfig: Path) -> None:
    code = admin_code or secrets.token_urlsafe(12)
    async with AsyncExitStack() as stack:
        sandboxes = await stack.enter_async_context(running_sandboxes(api_url_of(port), work_dir))
        settings = dev_settings(sandboxes, port=port, metrics_port=metrics_port, work_dir=work_dir, admin_code=code)
        await serve_api(settings, stack)
        print(banner(settings, code, kubeconfig, sandboxes), flush=True)
        kube = await stack.enter_async_context(KubeClient(load_connection()))
        story = asyncio.create_task(_story(sandboxes, kube).run(), name="dev story")
        try:
            await run_operator(settings, serve_endpoints=False)
        finally:
            story.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await story


def _story(sandboxes: Sandboxes, kube: KubeClient) -> DevStory:
    linear_ticket, jira_ticket = sandboxes.story_tickets
    return DevStory(
        linear=sandboxes.linear,
        jira=sandboxes.jira,
        github=sandboxes.github,
        kube=kube,
        namespace=NAMESPACE,
        linear_ticket=linear_ticket,
        jira_ticket=jira_ticket,
        label=AI_LABEL,
        review_repo=(OWNER, str(SAMPLE_MAPPINGS[0]["source"]["repo"])),
        say=lambda line: print(line, flush=True),
    )


def main(*, port: int, metrics_port: int, work_dir: Path, admin_code: str | None) -> int:
    """Start the control plane, then everything else; stop it all on Ctrl-C or SIGTERM."""
    configure_logging("INFO")
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        binaries = locate_binaries()
    except ControlPlaneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with ControlPlane(binaries) as plane:
        prepare_cluster(plane.kubeconfig_path)
        with _kubeconfig_in_environment(plane.kubeconfig_path), contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                run_dev(
                    port=port,
                    metrics_port=metrics_port,
                    work_dir=work_dir,
                    admin_code=admin_code,
                    kubeconfig=plane.kubeconfig_path,
                )
            )
    print("stopped", flush=True)
    return 0


@contextlib.contextmanager
def _kubeconfig_in_environment(path: Path) -> Iterator[None]:
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
