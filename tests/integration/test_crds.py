"""The CRDs on a real API server: installed, validating, defaulting, printing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller import constants
from controller.resources import ALL_KINDS
from tests.support.cluster import Cluster

SAMPLES = sorted((Path(__file__).parents[2] / "manifests" / "samples").glob("*.yaml"))
PLURALS = {kind.kind: kind.plural for kind in ALL_KINDS}

MINIMAL_MAPPING: dict[str, Any] = {
    "apiVersion": constants.API_VERSION,
    "kind": constants.PROJECT_MAPPING_KIND,
    "metadata": {"name": "eng"},
    "spec": {
        "teamKey": "ENG",
        "ticketing": {"provider": "linear"},
        "source": {"owner": "acme", "repo": "webapp", "defaultBranch": "main"},
    },
}


def _objects(cluster: Cluster) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(cluster.api_client)


def _create(cluster: Cluster, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = _objects(cluster).create_namespaced_custom_object(
        constants.GROUP, constants.VERSION, namespace, PLURALS[body["kind"]], body
    )
    return created


def _rejection(cluster: Cluster, namespace: str, body: dict[str, Any]) -> str:
    with pytest.raises(ApiException) as raised:
        _create(cluster, namespace, body)
    assert raised.value.status == 422, raised.value.body
    message: str = json.loads(raised.value.body)["message"]
    return message


def _mapping(**spec_changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(MINIMAL_MAPPING)
    for dotted, value in spec_changes.items():
        node = body["spec"]
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return body


@pytest.mark.controlplane
def test_every_crd_is_established(cluster: Cluster) -> None:
    extensions = client.ApiextensionsV1Api(cluster.api_client)
    for kind in ALL_KINDS:
        crd = extensions.read_custom_resource_definition(kind.crd_name)
        conditions = {c.type: c.status for c in crd.status.conditions}
        assert conditions.get("Established") == "True"
        assert conditions.get("NamesAccepted") == "True"


@pytest.mark.controlplane
def test_short_names_collide_with_no_builtin_resource(cluster: Cluster) -> None:
    builtin_short_names: set[str] = set()
    discovery = client.CoreV1Api(cluster.api_client).get_api_resources()
    builtin_short_names.update(n for r in discovery.resources for n in (r.short_names or []))
    for group in client.ApisApi(cluster.api_client).get_api_versions().groups:
        if group.name == constants.GROUP:
            continue
        version = group.preferred_version.group_version
        resources = cluster.get_json(f"/apis/{version}")
        builtin_short_names.update(n for r in resources["resources"] for n in r.get("shortNames", []))
    ours = {name for kind in ALL_KINDS for name in kind.short_names}
    assert "rs" in builtin_short_names, "discovery did not list the built-in short names"
    assert not ours & builtin_short_names


@pytest.mark.controlplane
@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_each_sample_applies(cluster: Cluster, namespace: str, sample: Path) -> None:
    body = yaml.safe_load(sample.read_text())
    created = _create(cluster, namespace, body)
    assert created["metadata"]["name"] == body["metadata"]["name"]


@pytest.mark.controlplane
def test_server_fills_in_defaults(cluster: Cluster, namespace: str) -> None:
    spec = _create(cluster, namespace, copy.deepcopy(MINIMAL_MAPPING))["spec"]
    assert spec["capacity"] == {"maxInProgressAiIssues": 1, "maxTurns": 50, "maxJobMinutes": 90}
    assert spec["runner"] == {"executionMode": "github-actions"}
    assert spec["provider"] == {"name": "anthropic"}
    assert spec["planning"] == {"enabled": True}
    assert spec["paused"] is False


@pytest.mark.controlplane
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"provider": {"name": "bedrock"}},
            "provider.awsRegion is required when provider.name is bedrock",
            id="bedrock-without-awsRegion",
        ),
        pytest.param(
            {
                "provider": {"name": "bedrock", "awsRegion": "us-east-1"},
                "runner": {"executionMode": "fly-machines"},
            },
            "provider bedrock cannot use runner.executionMode fly-machines",
            id="bedrock-with-fly-machines",
        ),
        pytest.param(
            {"source__defaultBranch": None},
            "spec.source.defaultBranch: Required value",
            id="no-defaultBranch",
        ),
        pytest.param(
            {"runner": {"executionMode": "kubernetes-job"}},
            'spec.runner.executionMode: Unsupported value: "kubernetes-job"',
            id="unknown-executionMode",
        ),
        pytest.param(
            {"ticketing": {"provider": "jira"}},
            "ticketing.jira (jql, repoField, repoFieldValue) is required when provider is jira",
            id="jira-without-jql",
        ),
        pytest.param(
            {
                "ticketing": {
                    "provider": "jira",
                    "jira": {"jql": "project = PAY ORDER BY created", "repoField": "Repo", "repoFieldValue": "x"},
                }
            },
            "ticketing.jira.jql must not have an ORDER BY",
            id="jira-jql-with-order-by",
        ),
        pytest.param({"teamKey": "eng"}, "spec.teamKey in body should match", id="lower-case-teamKey"),
        pytest.param(
            {"capacity": {"maxTurns": 0}},
            "spec.capacity.maxTurns in body should be greater than or equal to 1",
            id="zero-maxTurns",
        ),
    ],
)
def test_invalid_mappings_are_rejected_by_the_api_server(
    cluster: Cluster, namespace: str, changes: dict[str, Any], expected: str
) -> None:
    message = _rejection(cluster, namespace, _mapping(**changes))
    assert expected in message


@pytest.mark.controlplane
def test_mapping_name_must_follow_the_team_key(cluster: Cluster, namespace: str) -> None:
    body = _mapping()
    body["metadata"]["name"] = "engineering"
    assert "metadata.name must be spec.teamKey in lower case" in _rejection(cluster, namespace, body)


@pytest.mark.controlplane
def test_dispatch_spec_is_immutable(cluster: Cluster, namespace: str) -> None:
    sample = yaml.safe_load((SAMPLES[0].parent / "dispatch.yaml").read_text())
    created = _create(cluster, namespace, sample)
    created["spec"]["iteration"] = 2
    with pytest.raises(ApiException) as raised:
        _objects(cluster).replace_namespaced_custom_object(
            constants.GROUP,
            constants.VERSION,
            namespace,
            constants.DISPATCH_PLURAL,
            created["metadata"]["name"],
            created,
        )
    assert raised.value.status == 422
    assert "Dispatch spec is immutable" in json.loads(raised.value.body)["message"]


@pytest.mark.controlplane
def test_review_dispatch_needs_a_pull_request(cluster: Cluster, namespace: str) -> None:
    body = yaml.safe_load((SAMPLES[0].parent / "dispatch.yaml").read_text())
    body["metadata"]["name"] = "eng-42-review-2"
    body["spec"].update(kind="review", iteration=2)
    assert "pullRequest is required for review and gap-fill" in _rejection(cluster, namespace, body)


@pytest.mark.controlplane
@pytest.mark.parametrize("kind", ALL_KINDS, ids=[k.kind for k in ALL_KINDS])
def test_printer_columns_are_served(cluster: Cluster, namespace: str, kind: Any) -> None:
    sample = next(s for s in SAMPLES if yaml.safe_load(s.read_text())["kind"] == kind.kind)
    _create(cluster, namespace, yaml.safe_load(sample.read_text()))
    table = cluster.get_json(
        f"/apis/{constants.GROUP}/{constants.VERSION}/namespaces/{namespace}/{kind.plural}",
        accept="application/json;as=Table;v=v1;g=meta.k8s.io",
    )
    served = [column["name"] for column in table["columnDefinitions"]]
    assert served == ["Name", *[column.name for column in kind.printer_columns]]
    assert len(table["rows"]) == 1


@pytest.mark.controlplane
def test_explain_teaches_the_fields(cluster: Cluster) -> None:
    document = cluster.get_json(f"/openapi/v3/apis/{constants.GROUP}/{constants.VERSION}")
    schema = document["components"]["schemas"][f"dev.ai-implement.{constants.VERSION}.ProjectMapping"]
    capacity = schema["properties"]["spec"]["properties"]["capacity"]["properties"]
    assert "conversation turns" in capacity["maxTurns"]["description"]
    assert capacity["maxTurns"]["default"] == 50
