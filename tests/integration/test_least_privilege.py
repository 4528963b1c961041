"""Least privilege, proven on the real API server: the ServiceAccounts and Roles of manifests/base.

SubjectAccessReviews say what each account may and may not do; then both processes run under their
accounts' own tokens (a TokenRequest each) through the whole `ai-implement dev` story — tickets
labelled, dispatched through webhooks and polls, runs calling back, a review and a gap-fill run —
and every admin page is read, and neither process meets a single refusal.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from kubernetes import client

from controller.dev.main import Sandboxes, api_url_of, dev_environment, running_sandboxes
from controller.dev.seed import AI_LABEL, OWNER, SAMPLE_MAPPINGS, mapping_resource
from controller.dev.story import DevStory
from controller.devcluster.controlplane import free_port
from controller.kube import PROJECT_MAPPINGS, SECRETS, ForbiddenError, KubeClient, connection_from_kubeconfig
from controller.kube.kinds import ApiResource
from controller.web.app import all_endpoints
from controller.web.routing import Access
from tests.support.cluster import Cluster
from tests.support.manifests import MANIFESTS, apply_documents, render
from tests.support.waiting import eventually

pytestmark = pytest.mark.controlplane

NAMESPACE = "ai-implement"
API = "ai-implement-api"
OPERATOR = "ai-implement-operator"
RUNNER_SECRETS = "ai-implement-runner-secrets"
ENVIRONMENT_SECRET = "ai-implement-env"
ADMIN_CODE = "least-privilege-test-code"
SUBJECT_ACCESS_REVIEWS = ApiResource(
    "authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", namespaced=False
)


@pytest.fixture(scope="module")
async def installed(cluster: Cluster) -> None:
    """The base for real, in its own namespace, with the Secret the processes' environment would be."""
    async with KubeClient(connection_from_kubeconfig(cluster.kubeconfig)) as kube:
        await apply_documents(kube, render(MANIFESTS / "base"), dry_run=False)
        environment = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": ENVIRONMENT_SECRET}}
        await kube.apply(SECRETS, NAMESPACE, environment | {"stringData": {"X": "y"}}, "test", force=True)


async def allowed(
    kube: KubeClient, account: str, verb: str, resource: str, *, name: str = "", namespace: str = NAMESPACE
) -> bool:
    group, _, plural = resource.rpartition(":")
    review = await kube.create(
        SUBJECT_ACCESS_REVIEWS,
        None,
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{NAMESPACE}:{account}",
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}", "system:authenticated"],
                "resourceAttributes": {
                    "verb": verb,
                    "group": group,
                    "resource": plural.split("/")[0],
                    "subresource": plural.partition("/")[2],
                    "name": name,
                    "namespace": namespace,
                },
            },
        },
    )
    return bool(review["status"].get("allowed"))


CRD = "apiextensions.k8s.io:customresourcedefinitions"
OURS = "ai-implement.dev:"

API_MAY = [
    ("list", OURS + "projectmappings", {}),
    ("watch", OURS + "projectmappings", {}),
    ("create", OURS + "projectmappings", {}),
    ("patch", OURS + "projectmappings", {}),
    ("delete", OURS + "projectmappings", {}),
    ("create", OURS + "dispatches", {}),
    ("get", OURS + "dispatches", {}),
    ("patch", OURS + "dispatches/status", {}),
    ("list", OURS + "runnersessions", {}),
    ("get", "secrets", {"name": RUNNER_SECRETS}),
    ("patch", "secrets", {"name": RUNNER_SECRETS}),
    ("create", "events", {}),
]
API_MAY_NOT = [
    ("get", "secrets", {"name": ENVIRONMENT_SECRET}),
    ("get", "secrets", {"name": "ai-implement-operator-token"}),
    ("list", "secrets", {}),
    ("create", "secrets", {}),
    ("delete", "secrets", {"name": RUNNER_SECRETS}),
    ("patch", OURS + "dispatches", {}),
    ("delete", OURS + "dispatches", {}),
    ("delete", OURS + "runnersessions", {}),
    ("patch", OURS + "projectmappings/status", {}),
    ("get", "coordination.k8s.io:leases", {"name": "ai-implement-operator"}),
    ("create", "pods", {}),
    ("create", OURS + "dispatches", {"namespace": "default"}),
    ("list", CRD, {"namespace": ""}),
]
OPERATOR_MAY = [
    ("watch", OURS + "projectmappings", {}),
    ("patch", OURS + "projectmappings", {}),
    ("patch", OURS + "projectmappings/status", {}),
    ("create", OURS + "dispatches", {}),
    ("patch", OURS + "dispatches/status", {}),
    ("create", OURS + "runnersessions", {}),
    ("delete", OURS + "runnersessions", {}),
    ("create", "coordination.k8s.io:leases", {}),
    ("update", "coordination.k8s.io:leases", {"name": "ai-implement-operator"}),
    ("get", "secrets", {"name": RUNNER_SECRETS}),
    ("create", "events", {}),
]
OPERATOR_MAY_NOT = [
    ("get", "secrets", {"name": ENVIRONMENT_SECRET}),
    ("patch", "secrets", {"name": RUNNER_SECRETS}),
    ("list", "secrets", {}),
    ("create", "secrets", {}),
    ("update", "coordination.k8s.io:leases", {"name": "someone-elses-lease"}),
    ("create", OURS + "projectmappings", {}),
    ("delete", OURS + "projectmappings", {}),
    ("create", OURS + "dispatches", {"namespace": "default"}),
    ("create", "pods", {}),
    ("list", CRD, {"namespace": ""}),
    ("list", "namespaces", {"namespace": ""}),
]


@pytest.mark.parametrize(
    ("account", "verb", "resource", "where", "expected"),
    [(API, *case, True) for case in API_MAY]
    + [(API, *case, False) for case in API_MAY_NOT]
    + [(OPERATOR, *case, True) for case in OPERATOR_MAY]
    + [(OPERATOR, *case, False) for case in OPERATOR_MAY_NOT],
)
async def test_each_account_may_do_what_its_process_does_and_no_more(
    installed: None, kube: KubeClient, account: str, verb: str, resource: str, where: dict[str, str], expected: bool
) -> None:
    assert await allowed(kube, account, verb, resource, **where) is expected


def token_kubeconfig(cluster: Cluster, account: str, directory: Path) -> Path:
    """A kubeconfig that authenticates as `account` with a token the API server issues for it."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    issued = client.CoreV1Api(cluster.api_client).create_namespaced_service_account_token(account, NAMESPACE, request)
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    config["users"] = [{"name": context["context"]["user"], "user": {"token": issued.status.token}}]
    path = directory / f"{account}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_neither_token_reads_the_environment_secret(installed: None, cluster: Cluster, tmp_path: Path) -> None:
    for account in (API, OPERATOR):
        connection = connection_from_kubeconfig(token_kubeconfig(cluster, account, tmp_path))
        async with KubeClient(connection) as as_account:
            with pytest.raises(ForbiddenError):
                await as_account.get(SECRETS, NAMESPACE, ENVIRONMENT_SECRET)
            await as_account.get(SECRETS, NAMESPACE, RUNNER_SECRETS)


class Process:
    """`ai-implement <command>` with exactly the given environment, its output in a log file."""

    def __init__(self, command: str, log: Path) -> None:
        self.command = command
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, environment: dict[str, str], directory: Path) -> None:
        with self.log.open("wb") as output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "controller.cli",
                self.command,
                "--env-file",
                str(directory / "none.env"),
                env=environment,
                cwd=directory,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def resident_megabytes(self) -> float:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        (line,) = [line for line in status.splitlines() if line.startswith("VmRSS:")]
        return int(line.split()[1]) / 1024

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@pytest.fixture
async def sandboxes(tmp_path: Path) -> AsyncIterator[tuple[Sandboxes, int]]:
    port = free_port()
    async with running_sandboxes(api_url_of(port), tmp_path) as started:
        yield started, port


async def test_both_processes_play_the_whole_story_under_their_own_tokens(
    installed: None,
    cluster: Cluster,
    kube: KubeClient,
    sandboxes: tuple[Sandboxes, int],
    tmp_path: Path,
) -> None:
    services, port = sandboxes
    for spec in SAMPLE_MAPPINGS:
        await kube.apply(PROJECT_MAPPINGS, NAMESPACE, mapping_resource(spec, NAMESPACE), "test", force=True)
    common = {
        **dev_environment(services, port=port, metrics_port=free_port(), work_dir=tmp_path, admin_code=ADMIN_CODE),
        "AI_IMPLEMENT_NAMESPACE": NAMESPACE,
        "OPERATOR_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    api, operator = Process("api", tmp_path / "api.log"), Process("operator", tmp_path / "operator.log")
    try:
        await api.start({**common, "KUBECONFIG": str(token_kubeconfig(cluster, API, tmp_path))}, tmp_path)
        await operator.start({**common, "KUBECONFIG": str(token_kubeconfig(cluster, OPERATOR, tmp_path))}, tmp_path)
        base = api_url_of(port)
        await eventually(lambda: _ready(base), within=60)

        told: list[str] = []
        story = DevStory(
            linear=services.linear,
            jira=services.jira,
            github=services.github,
            kube=kube,
            namespace=NAMESPACE,
            linear_ticket=services.story_tickets[0],
            jira_ticket=services.story_tickets[1],
            label=AI_LABEL,
            review_repo=(OWNER, str(SAMPLE_MAPPINGS[0]["source"]["repo"])),
            say=told.append,
        )
        await asyncio.wait_for(story.run(), 420)
        assert told, "the story told nothing"
        assert told[-1].startswith("[story] that is the whole story"), (told, operator.text()[-3000:])

        await _use_every_admin_page_and_write_a_secret(base)
        print(
            f"\nresident memory after the story: api {api.resident_megabytes():.0f} MB, "
            f"operator {operator.resident_megabytes():.0f} MB"
        )
    finally:
        await api.stop()
        await operator.stop()
    for process in (api, operator):
        assert "forbidden" not in process.text().lower(), _refusals(process.text())


async def _ready(base: str) -> bool:
    async with httpx.AsyncClient(timeout=5) as http:
        try:
            return (await http.get(f"{base}/readyz")).status_code == 200
        except httpx.TransportError:
            return False


async def _use_every_admin_page_and_write_a_secret(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        token = (await http.post("/api/auth", json={"code": ADMIN_CODE})).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        pages = [
            e.path for e in all_endpoints() if e.method == "GET" and e.access is Access.ADMIN and "{" not in e.path
        ]
        for path in pages:
            answer = await http.get(path)
            assert answer.status_code < 500, (path, answer.text)
        written = await http.post("/api/global-secrets", json={"name": "LEAST_PRIVILEGE_TEST", "value": "a value"})
        assert written.status_code == 201, written.text
        assert (await http.delete("/api/global-secrets/LEAST_PRIVILEGE_TEST")).status_code == 204
        paused = await http.patch("/api/mappings/ENG", json={"paused": True})
        assert paused.status_code == 200, paused.text
        assert (await http.patch("/api/mappings/ENG", json={"paused": False})).status_code == 200
        for page in ("/admin", "/admin/sessions", "/admin/secrets"):
            assert (await http.get(page)).status_code in (200, 303), page


def _refusals(log: str) -> list[str]:
    return [line for line in log.splitlines() if "forbidden" in line.lower()][:5]
