"""The async client against a real API server: every verb, and each error as the server sends it."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller import constants
from controller.kube import (
    DISPATCHES,
    PROJECT_MAPPINGS,
    SECRETS,
    AlreadyExistsError,
    ConflictError,
    DeletePreconditions,
    GoneError,
    InvalidError,
    InvalidObjectName,
    KubeClient,
    NotFoundError,
    UnauthorizedError,
    WatchEvent,
    connection_from_kubeconfig,
    connection_to,
)
from tests.support.cluster import Cluster

pytestmark = pytest.mark.controlplane

SAMPLES = Path(__file__).parents[2] / "manifests" / "samples"
OTHER_MANAGER = "kubectl-client"


def mapping(team_key: str = "ENG", labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A minimal valid ProjectMapping, its name derived from the team key as the CEL rule demands."""
    body: dict[str, Any] = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": team_key.lower().replace("_", "-"), "labels": labels or {}},
        "spec": {
            "teamKey": team_key,
            "ticketing": {"provider": "linear"},
            "source": {"owner": "acme", "repo": "webapp", "defaultBranch": "main"},
            **spec,
        },
    }
    return body


def sample(file_name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((SAMPLES / file_name).read_text())
    return loaded


def managers_of(obj: dict[str, Any]) -> set[str]:
    return {entry["manager"] for entry in obj["metadata"].get("managedFields", [])}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def kube(cluster: Cluster) -> AsyncIterator[KubeClient]:
    async with KubeClient(connection_from_kubeconfig(cluster.kubeconfig)) as client:
        yield client


async def test_apply_creates_then_updates(kube: KubeClient, namespace: str) -> None:
    created = await kube.apply(PROJECT_MAPPINGS, namespace, mapping(), constants.FIELD_MANAGER)
    assert created["metadata"]["generation"] == 1
    assert created["spec"]["capacity"]["maxTurns"] == 50

    updated = await kube.apply(PROJECT_MAPPINGS, namespace, mapping(capacity={"maxTurns": 40}), constants.FIELD_MANAGER)

    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["metadata"]["generation"] == 2
    assert updated["spec"]["capacity"]["maxTurns"] == 40


async def test_apply_of_a_field_another_manager_owns_conflicts_unless_forced(kube: KubeClient, namespace: str) -> None:
    await kube.apply(PROJECT_MAPPINGS, namespace, mapping(), constants.FIELD_MANAGER)
    theirs = mapping()
    theirs["spec"]["source"]["defaultBranch"] = "trunk"

    with pytest.raises(ConflictError) as raised:
        await kube.apply(PROJECT_MAPPINGS, namespace, theirs, OTHER_MANAGER)

    assert raised.value.status_code == 409
    assert any(cause.field == ".spec.source.defaultBranch" for cause in raised.value.causes)
    forced = await kube.apply(PROJECT_MAPPINGS, namespace, theirs, OTHER_MANAGER, force=True)
    assert forced["spec"]["source"]["defaultBranch"] == "trunk"


async def test_another_manager_applying_an_unrelated_field_does_not_conflict(kube: KubeClient, namespace: str) -> None:
    ours = sample("projectmapping-linear.yaml")
    await kube.apply(PROJECT_MAPPINGS, namespace, ours, constants.FIELD_MANAGER)
    theirs = {"metadata": {"name": ours["metadata"]["name"], "labels": {"owner": "platform"}}}

    merged = await kube.apply(PROJECT_MAPPINGS, namespace, theirs, OTHER_MANAGER)

    assert merged["metadata"]["labels"] == {"owner": "platform"}
    assert merged["spec"]["source"] == ours["spec"]["source"]
    assert {constants.FIELD_MANAGER, OTHER_MANAGER} <= managers_of(merged)


async def test_a_cel_rule_rejection_is_invalid_with_the_rule_message(kube: KubeClient, namespace: str) -> None:
    with pytest.raises(InvalidError) as raised:
        await kube.apply(PROJECT_MAPPINGS, namespace, mapping(provider={"name": "bedrock"}), constants.FIELD_MANAGER)

    assert raised.value.status_code == 422
    assert raised.value.reason == "Invalid"
    assert "provider.awsRegion is required when provider.name is bedrock" in raised.value.message
    assert any("awsRegion" in cause.field for cause in raised.value.causes)


async def test_get_of_a_missing_object_is_not_found(kube: KubeClient, namespace: str) -> None:
    with pytest.raises(NotFoundError) as raised:
        await kube.get(PROJECT_MAPPINGS, namespace, "nobody")

    assert raised.value.status_code == 404
    assert "nobody" in raised.value.message


@pytest.mark.parametrize(
    "name",
    ["../../../api/v1/namespaces/default/serviceaccounts/x", "..", ".", "a/b", "a%2Fb", "Upper", "", "a" * 254],
)
async def test_a_name_that_is_no_object_name_never_reaches_the_api_server(
    kube: KubeClient, namespace: str, name: str
) -> None:
    """Joined into a URL, `..` and `/` would reach other API paths (a service account's token, say)."""
    with pytest.raises(InvalidObjectName, match="is not a Kubernetes"):
        await kube.get(DISPATCHES, namespace, name)
    with pytest.raises(InvalidObjectName, match="namespace"):
        await kube.get(DISPATCHES, "../kube-system", "x")
    with pytest.raises(InvalidObjectName):
        await kube.merge_patch(DISPATCHES, namespace, "x", {}, subresource="../../secrets")


async def test_creating_a_name_twice_is_already_exists(kube: KubeClient, namespace: str) -> None:
    await kube.create(PROJECT_MAPPINGS, namespace, mapping())

    with pytest.raises(AlreadyExistsError) as raised:
        await kube.create(PROJECT_MAPPINGS, namespace, mapping())

    assert isinstance(raised.value, ConflictError)
    assert raised.value.reason == "AlreadyExists"


async def test_merge_patch_changes_the_spec_and_the_status_through_its_subresource(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(PROJECT_MAPPINGS, namespace, mapping())

    patched = await kube.merge_patch(
        PROJECT_MAPPINGS, namespace, "eng", {"spec": {"paused": True}, "status": {"inProgress": 9}}
    )
    assert patched["spec"]["paused"] is True
    assert "status" not in patched, "the main resource must ignore status when the subresource exists"

    with_status = await kube.merge_patch(
        PROJECT_MAPPINGS,
        namespace,
        "eng",
        {"status": {"inProgress": 2, "effectiveRunnerMode": "github-actions"}},
        subresource="status",
        field_manager=constants.FIELD_MANAGER,
    )
    assert with_status["status"] == {"inProgress": 2, "effectiveRunnerMode": "github-actions"}
    assert with_status["metadata"]["generation"] == patched["metadata"]["generation"]


async def test_delete_honours_the_uid_precondition(kube: KubeClient, namespace: str) -> None:
    created = await kube.create(PROJECT_MAPPINGS, namespace, mapping())

    with pytest.raises(ConflictError):
        await kube.delete(PROJECT_MAPPINGS, namespace, "eng", preconditions=DeletePreconditions(uid="not-it"))
    await kube.delete(
        PROJECT_MAPPINGS,
        namespace,
        "eng",
        preconditions=DeletePreconditions(uid=created["metadata"]["uid"]),
        propagation_policy="Background",
    )

    with pytest.raises(NotFoundError):
        await kube.get(PROJECT_MAPPINGS, namespace, "eng")
    with pytest.raises(NotFoundError):
        await kube.delete(PROJECT_MAPPINGS, namespace, "eng")


async def test_list_filters_by_label_across_pages(kube: KubeClient, namespace: str) -> None:
    for team_key, tier in (("WEB", "a"), ("API", "a"), ("OPS", "b")):
        await kube.create(PROJECT_MAPPINGS, namespace, mapping(team_key, labels={"tier": tier}))

    listed = await kube.list(PROJECT_MAPPINGS, namespace, label_selector="tier=a", page_size=1)

    assert [item["metadata"]["name"] for item in listed.items] == ["api", "web"]
    assert all(item["kind"] == constants.PROJECT_MAPPING_KIND for item in listed.items)
    assert listed.resource_version


async def test_watch_sees_added_modified_and_deleted(kube: KubeClient, namespace: str) -> None:
    start = (await kube.list(PROJECT_MAPPINGS, namespace)).resource_version
    await kube.create(PROJECT_MAPPINGS, namespace, mapping())
    await kube.merge_patch(PROJECT_MAPPINGS, namespace, "eng", {"spec": {"paused": True}})
    await kube.delete(PROJECT_MAPPINGS, namespace, "eng")

    seen: list[WatchEvent] = []
    async with aclosing(kube.watch(PROJECT_MAPPINGS, namespace, resource_version=start, timeout_seconds=10)) as events:
        async for event in events:
            if event.type != "BOOKMARK":
                seen.append(event)
            if event.type == "DELETED":
                break

    assert [event.type for event in seen] == ["ADDED", "MODIFIED", "DELETED"]
    assert seen[1].object["spec"]["paused"] is True
    assert all(event.object["metadata"]["name"] == "eng" for event in seen)


async def test_watch_from_a_compacted_version_is_gone(kube: KubeClient, namespace: str) -> None:
    events = kube.watch(PROJECT_MAPPINGS, namespace, resource_version="1", timeout_seconds=5)

    with pytest.raises(GoneError) as raised:
        await anext(events)

    assert raised.value.status_code == 410


async def test_core_secrets_are_created_read_and_deleted(kube: KubeClient, namespace: str) -> None:
    value = base64.b64encode(b"lin_api_123").decode()
    secret = {"metadata": {"name": "eng-secrets"}, "type": "Opaque", "data": {"LINEAR_API_KEY": value}}

    created = await kube.create(SECRETS, namespace, secret)
    read = await kube.get(SECRETS, namespace, "eng-secrets")
    listed = await kube.list(SECRETS, namespace)
    await kube.delete(SECRETS, namespace, "eng-secrets")

    assert created["metadata"]["uid"] == read["metadata"]["uid"]
    assert read["data"] == {"LINEAR_API_KEY": value}
    assert [(item["apiVersion"], item["kind"]) for item in listed.items] == [("v1", "Secret")]
    with pytest.raises(NotFoundError):
        await kube.get(SECRETS, namespace, "eng-secrets")


async def test_a_body_of_another_kind_is_refused_before_sending(kube: KubeClient, namespace: str) -> None:
    with pytest.raises(ValueError, match=r"apiVersion is 'ai-implement\.dev/v1alpha1', but this call is for 'v1'"):
        await kube.create(SECRETS, namespace, mapping())


async def test_healthy_when_the_api_server_is_ready(kube: KubeClient) -> None:
    assert await kube.healthy()


async def test_not_healthy_when_nothing_listens() -> None:
    async with KubeClient(connection_to(f"https://127.0.0.1:{closed_port()}", insecure=True)) as client:
        assert not await client.healthy()


async def test_a_wrong_token_is_unauthorized(kube: KubeClient) -> None:
    stranger = connection_to(kube.connection.server, bearer_token="not-a-token", insecure=True)

    async with KubeClient(stranger) as client:
        with pytest.raises(UnauthorizedError) as raised:
            await client.get(PROJECT_MAPPINGS, "default", "eng")

    assert raised.value.status_code == 401
