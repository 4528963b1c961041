"""The whole run loop in one test process: operator runtime, API, backend sandboxes and the simulated runner.

`RunLoop` starts the GitHub, Fly, Docker and chat sandboxes, the API on a known port (runners call
it back), and operator runtimes wired to all of them; the simulated runner plays every run the
backends start. Tests seed tickets in the Linear sandbox, run `loop.lead()` and watch Dispatches.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from controller.github import GitHubClient
from controller.kube import DISPATCHES, KubeClient
from controller.kube.errors import NotFoundError
from controller.operator.main import term_of
from controller.operator.runs.reconciler import Checkpoint, no_checkpoint
from controller.operator.runtime import OperatorRuntime
from controller.runners.github_actions import WORKFLOW_INPUTS
from controller.runners.identity import IdentityVerifier
from controller.sandbox.chat import ChatSandbox
from controller.sandbox.docker import DockerSandbox
from controller.sandbox.fly import FlySandbox
from controller.sandbox.github import GitHubSandbox
from controller.sandbox.linear import LinearSandbox
from controller.sandbox.process_runner import ProcessRunner
from controller.sandbox.runner import SandboxRunner
from controller.ticketing.linear import LinearClient
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.cluster import Cluster
from tests.support.waiting import eventually

if TYPE_CHECKING:
    from tests.operator.conftest import RuntimeFactory

APP_ID = 12345
OWNER = "acme"
TOKEN_SECRET = "runner-token-secret-for-the-run-loop-0123"
FLY_APP = "ai-implement-sessions"
FLY_TOKEN = "fm2_runLoopSessionsToken0123456789"
LOCAL_IMAGE = "ai-implement-runner:dev"
ANTHROPIC_KEY = "sk-ant-api03-runLoopSandboxKey"
WEBHOOK_SECRET = "github-webhook-secret-of-the-run-loop"
GAP_FILL_SECRET = "gap-fill-trigger-secret-of-the-run-loop"


async def _api_on_a_free_port(
    start_api: ApiFactory, sandbox: GitHubSandbox, fly: FlySandbox, http: httpx.AsyncClient, **extra: Any
) -> tuple[Api, str]:
    """The API on a port known before it starts (runners are told it); another process may take the
    port first, so a few are tried."""
    for _ in range(5):
        api_url = f"http://127.0.0.1:{(port := free_port())}"
        verifier = IdentityVerifier(
            {str(sandbox.oidc.issuer_url): "github-actions", str(fly.oidc.issuer_url): "fly-machines"},
            api_url,
            http=http,
        )
        environment = {
            "RUNNER_TOKEN_SECRET": TOKEN_SECRET,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GAP_FILL_TRIGGER_SECRET": GAP_FILL_SECRET,
        }
        try:
            return await start_api(environment, identity=verifier, port=port, **extra), api_url
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
    raise RuntimeError("no free port for the API after 5 tries")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunLoop:
    github: GitHubSandbox
    fly: FlySandbox
    docker: DockerSandbox
    chat: ChatSandbox
    runner: SandboxRunner
    processes: ProcessRunner | None
    """The real runner's processes, in a `real_loop`."""
    api: Api
    api_url: str
    slack_url: str
    start_operator: RuntimeFactory
    kube: KubeClient
    namespace: str
    leading: list[asyncio.Task[None]] = field(default_factory=list)

    def environment(self, **extra: str) -> dict[str, str | None]:
        return {
            "GITHUB_API_URL": str(self.github.url),
            "GITHUB_OIDC_ISSUER": str(self.github.oidc.issuer_url),
            "RUNNER_CALLBACK_BASE_URL": self.api_url,
            "RUNNER_TOKEN_SECRET": TOKEN_SECRET,
            "NOTIFY_WEBHOOK_URL": self.slack_url,
            "FLY_SESSIONS_APP": FLY_APP,
            "FLY_SESSIONS_TOKEN": FLY_TOKEN,
            "FLY_API_BASE_URL": str(self.fly.url),
            "FLY_OIDC_ISSUER": str(self.fly.oidc.issuer_url),
            "DOCKER_HOST": str(self.docker.url),
            "LOCAL_RUNNER_IMAGE": LOCAL_IMAGE,
            "LOCAL_RUNNER_ORCHESTRATOR_URL": self.api_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "RUNNER_STOP_GRACE_SECONDS": "0",  # the simulated runner saves no work: close out at once
            **extra,
        }

    async def operator(self, checkpoint: Checkpoint = no_checkpoint, **env: str) -> OperatorRuntime:
        return await self.start_operator(self.environment(**env), checkpoint=checkpoint)

    def add_repo(self, name: str) -> None:
        self.github.add_repo(OWNER, name)
        self.github.install_app(APP_ID, OWNER, repos=[name])
        self.github.add_workflow(OWNER, name, inputs=WORKFLOW_INPUTS)

    async def lead(self, runtime: OperatorRuntime) -> asyncio.Task[None]:
        """What the leader runs in its term: kopf's handlers and the periodic work (without the Lease)."""
        task = asyncio.create_task(term_of(runtime, asyncio.Event(), [])(), name="test-lead")
        self.leading.append(task)
        return task

    async def phase(self, name: str) -> str | None:
        dispatch = await self.kube.get(DISPATCHES, self.namespace, name)
        phase: str | None = (dispatch.get("status") or {}).get("phase")
        return phase

    async def until_closed(self, name: str, within: float = 30.0) -> dict[str, Any]:
        async def closed() -> bool:
            try:
                dispatch = await self.kube.get(DISPATCHES, self.namespace, name)
            except NotFoundError:
                return False
            return bool((dispatch.get("status") or {}).get("closedAt"))

        await eventually(closed, within=within)
        status: dict[str, Any] = (await self.kube.get(DISPATCHES, self.namespace, name))["status"]
        return status


@pytest.fixture
async def loop(
    start_operator: RuntimeFactory,
    start_api: ApiFactory,
    kube: KubeClient,
    namespace: str,
    rsa_key: Any,
    cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[RunLoop]:
    """The run loop with the simulated runner: each run plays a `RunScript`."""
    async with _run_loop(start_operator, start_api, kube, namespace, rsa_key, cluster, monkeypatch) as loop:
        yield loop


@pytest.fixture
async def real_loop(
    start_operator: RuntimeFactory,
    start_api: ApiFactory,
    kube: KubeClient,
    namespace: str,
    rsa_key: Any,
    cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    linear: LinearSandbox,
    tmp_path: Path,
) -> AsyncIterator[RunLoop]:
    """The run loop with the real runner program (and the fake agent) started for every run."""
    async with _run_loop(
        start_operator, start_api, kube, namespace, rsa_key, cluster, monkeypatch, linear=linear, workroot=tmp_path
    ) as loop:
        yield loop


@asynccontextmanager
async def _run_loop(
    start_operator: RuntimeFactory,
    start_api: ApiFactory,
    kube: KubeClient,
    namespace: str,
    rsa_key: Any,
    cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    *,
    linear: LinearSandbox | None = None,
    workroot: Path | None = None,
) -> AsyncIterator[RunLoop]:
    """With `workroot`, the real runner runs and the API also holds Linear; it always holds the GitHub App."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))  # kopf logs in from it, as in a real process
    async with AsyncExitStack() as stack:
        github = GitHubSandbox()
        github.add_app(APP_ID, rsa_key.public_key())
        fly = FlySandbox()
        fly.add_app(FLY_APP)
        fly.add_token(FLY_TOKEN, apps=[FLY_APP])
        docker = DockerSandbox()
        docker.add_image(LOCAL_IMAGE)
        chat = ChatSandbox(rate_limit=False)
        runner = SandboxRunner(github=github, fly=fly, docker=docker)
        stack.push_async_callback(runner.aclose)
        processes = None
        hook = runner.on_run_started
        if workroot is not None:
            processes = ProcessRunner(github=github, fly=fly, docker=docker, workroot=workroot)
            stack.push_async_callback(processes.aclose)
            hook = processes.on_run_started
        for sandbox in (github, fly, docker):
            sandbox.on_run_started = hook
        for sandbox in (github, fly, docker, chat):
            await stack.enter_async_context(sandbox.running())
        http = await stack.enter_async_context(httpx.AsyncClient())
        extra: dict[str, Any] = {
            "github": await stack.enter_async_context(GitHubClient(APP_ID, rsa_key, base_url=str(github.url)))
        }
        if linear is not None:
            from tests.operator.conftest import LINEAR_KEY

            extra["tickets"] = {
                "linear": await stack.enter_async_context(LinearClient(LINEAR_KEY, endpoint=f"{linear.url}/graphql"))
            }
        api, api_url = await _api_on_a_free_port(start_api, github, fly, http, **extra)
        github.set_app_webhook(APP_ID, f"{api_url}/api/github/webhook", WEBHOOK_SECRET)
        loop = RunLoop(
            github=github,
            fly=fly,
            docker=docker,
            chat=chat,
            runner=runner,
            processes=processes,
            api=api,
            api_url=api_url,
            slack_url=chat.add_slack_hook(),
            start_operator=start_operator,
            kube=kube,
            namespace=namespace,
        )
        try:
            yield loop
        finally:
            for task in loop.leading:
                task.cancel()
            await asyncio.gather(*loop.leading, return_exceptions=True)
