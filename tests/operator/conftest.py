"""The operator in-process, on the real API server and each database, polling the Linear and Jira sandboxes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from controller import constants
from controller.config import load_settings
from controller.kube import DISPATCHES, PROJECT_MAPPINGS, KubeClient, connection_from_kubeconfig
from controller.operator.runs.reconciler import Checkpoint, no_checkpoint
from controller.operator.runtime import OperatorRuntime, open_operator_runtime
from controller.sandbox import JiraSandbox, LinearSandbox
from controller.sandbox.jira import FieldKind
from tests.support.clock import FakeClock
from tests.support.cluster import Cluster
from tests.support.waiting import eventually

LINEAR_KEY = "lin_api_operatorTests0123456789abcdef"
JIRA_TOKEN = "jira-operator-token"
JIRA_CLOUD_ID = "11111111-2222-4333-8444-555555555555"
JIRA_SITE_URL = "https://acme.atlassian.net"


@pytest.fixture
async def linear() -> AsyncIterator[LinearSandbox]:
    sandbox = LinearSandbox()
    sandbox.add_user("Ada Lovelace", "ada@example.com", api_key=LINEAR_KEY)
    for key in ("ENG", "OPS", "WEB"):
        sandbox.add_team(key)
    sandbox.add_label("AI-Implement")
    sandbox.add_label("plan-approved")
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def jira() -> AsyncIterator[JiraSandbox]:
    sandbox = JiraSandbox()
    sandbox.add_site(JIRA_CLOUD_ID, site_url=JIRA_SITE_URL)
    sandbox.add_user("Grace Hopper", "grace@example.com", token=JIRA_TOKEN)
    sandbox.add_project("PAY", "Payments")
    sandbox.add_field("Repo", FieldKind.SELECT, options=["payments-service", "ledger"])
    async with sandbox.running():
        yield sandbox


@pytest.fixture
def operator_clock() -> FakeClock:
    return FakeClock()


def store_environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    """DATABASE_URL for PostgreSQL, DEDUP_DB_PATH for SQLite, as a user would configure each."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return {"DEDUP_DB_PATH": str(url.database)}
    return {"DATABASE_URL": url.render_as_string(hide_password=False)}


RuntimeFactory = Callable[..., Awaitable[OperatorRuntime]]


@pytest.fixture
async def start_operator(
    cluster: Cluster,
    namespace: str,
    migrated_database_url: str,
    tmp_path: Path,
    linear: LinearSandbox,
    jira: JiraSandbox,
    operator_clock: FakeClock,
    rsa_key_pem: str,
) -> AsyncIterator[RuntimeFactory]:
    """Opens operator runtimes (no kopf) wired to the sandboxes; `env` adds or overrides variables."""
    async with AsyncExitStack() as stack:

        async def start(
            env: dict[str, str | None] | None = None, *, checkpoint: Checkpoint = no_checkpoint
        ) -> OperatorRuntime:
            environ = {
                "GITHUB_APP_ID": "12345",
                "GITHUB_APP_PRIVATE_KEY": rsa_key_pem,
                "LINEAR_API_KEY": LINEAR_KEY,
                "LINEAR_API_URL": f"{linear.url}/graphql",
                "JIRA_TOKEN": JIRA_TOKEN,
                "JIRA_CLOUD_ID": JIRA_CLOUD_ID,
                "JIRA_SITE_URL": JIRA_SITE_URL,
                "JIRA_API_BASE_URL": str(jira.url),
                "AI_IMPLEMENT_NAMESPACE": namespace,
                "RUNNER_CALLBACK_BASE_URL": "https://ai-implement.example.com",
                "RUNNER_TOKEN_SECRET": "operator-tests-runner-token-secret-0123456789",
                "RUNNER_STOP_GRACE_SECONDS": "0",  # no runner saves work here: a stopped run closes out at once
                **store_environment(migrated_database_url, tmp_path),
                **(env or {}),
            }
            settings = load_settings({k: v for k, v in environ.items() if v is not None}, env_file=None)
            runtime = await stack.enter_async_context(
                open_operator_runtime(
                    settings,
                    clock=operator_clock,
                    connection=connection_from_kubeconfig(cluster.kubeconfig),
                    checkpoint=checkpoint,
                    session_sync_interval=timedelta(milliseconds=300),
                    dispatch_stop_seconds=1.0,
                )
            )
            assert await runtime.mappings.wait_synced(10)
            assert await runtime.dispatches.wait_synced(10)
            return runtime

        yield start


async def apply_mapping(kube: KubeClient, namespace: str, team_key: str, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": team_key.lower().replace("_", "-"), "namespace": namespace},
        "spec": {
            "teamKey": team_key,
            "ticketing": {"provider": "linear"},
            "source": {"owner": "acme", "repo": team_key.lower(), "defaultBranch": "main"},
            **spec,
        },
    }
    applied: dict[str, Any] = await kube.apply(PROJECT_MAPPINGS, namespace, body, "tests", force=True)
    return applied


async def cached(runtime: OperatorRuntime, *names: str) -> None:
    """Wait until the runtime's watch has seen these mappings."""
    await eventually(lambda: {item["metadata"]["name"] for item in runtime.mappings.items()} >= set(names))


async def dispatch_names(kube: KubeClient, namespace: str) -> list[str]:
    return sorted(item["metadata"]["name"] for item in (await kube.list(DISPATCHES, namespace)).items)


async def finish(kube: KubeClient, runtime: OperatorRuntime, name: str, phase: str) -> None:
    """Play the part of the Dispatch reconciler: move a Dispatch to a terminal phase, then wait for the watch."""
    finished = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    await kube.merge_patch(
        DISPATCHES, runtime.namespace, name, {"status": {"phase": phase, "finishedAt": finished}}, subresource="status"
    )

    def seen() -> bool:
        item = runtime.dispatches.get(name, runtime.namespace)
        return item is not None and (item.get("status") or {}).get("phase") == phase

    await eventually(seen)


@pytest.fixture
def clock(operator_clock: FakeClock) -> FakeClock:
    """The API started next to the operator shares its clock, which starts at the real time as sandboxes do."""
    return operator_clock
