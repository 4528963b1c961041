"""The deployment manifests are valid objects for a real API server, and say what they must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.config import Settings
from controller.kube import KubeClient
from controller.kube.kinds import ApiResource

BASE = Path(__file__).parents[2] / "manifests" / "base"

RESOURCES = {
    "Namespace": ApiResource("", "v1", "Namespace", "namespaces", namespaced=False),
    "ServiceAccount": ApiResource("", "v1", "ServiceAccount", "serviceaccounts"),
    "Role": ApiResource("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    "RoleBinding": ApiResource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    "ClusterRole": ApiResource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    "ClusterRoleBinding": ApiResource(
        "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False
    ),
    "PersistentVolumeClaim": ApiResource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    "Deployment": ApiResource("apps", "v1", "Deployment", "deployments"),
    "Service": ApiResource("", "v1", "Service", "services"),
}


def base_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    documents: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        documents += [doc for doc in yaml.safe_load_all((BASE / name).read_text()) if doc]
    return documents


def test_the_kustomization_lists_every_file() -> None:
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    assert listed == {path.name for path in BASE.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.controlplane
async def test_every_base_manifest_is_accepted_by_the_api_server(kube: KubeClient) -> None:
    for document in base_documents():
        resource = RESOURCES[document["kind"]]
        namespace = document["metadata"].get("namespace") if resource.namespaced else None
        await kube.apply(resource, namespace, document, "manifest-test", force=True)


def test_there_is_no_kopf_peering_anywhere() -> None:
    """One election, the Lease: kopf runs standalone inside the leader's term."""
    assert not [d for d in base_documents() if d["kind"] == "KopfPeering"]
    rules = [rule for d in base_documents() if d["kind"] in ("Role", "ClusterRole") for rule in d["rules"]]
    assert not [rule for rule in rules if "kopf.dev" in rule.get("apiGroups", [])]


def test_both_processes_run_from_one_image_each_probed_on_its_own_port() -> None:
    (deployment,) = [d for d in base_documents() if d["kind"] == "Deployment"]
    containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
    assert containers["operator"]["args"] == ["operator"]
    assert containers["api"]["args"] == ["api"]
    assert containers["operator"]["image"] == containers["api"]["image"]
    assert containers["api"]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    default = {name: Settings.model_fields[name].default for name in ("port", "operator_port")}
    ports = {name: {p["name"]: p["containerPort"] for p in c["ports"]} for name, c in containers.items()}
    assert ports == {"operator": {"operator-http": default["operator_port"]}, "api": {"http": default["port"]}}
    liveness = containers["operator"]["livenessProbe"]["httpGet"]
    assert (liveness["path"], liveness["port"]) == ("/healthz", "operator-http")
    (service,) = [d for d in base_documents() if d["kind"] == "Service"]
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {"http", "operator-http"}


SUBJECT_ACCESS_REVIEWS = ApiResource(
    "authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", namespaced=False
)
SERVICE_ACCOUNT = "system:serviceaccount:ai-implement:ai-implement"


async def allowed(kube: KubeClient, verb: str, group: str, resource: str, namespace: str | None) -> bool:
    review = await kube.create(
        SUBJECT_ACCESS_REVIEWS,
        None,
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": SERVICE_ACCOUNT,
                "groups": ["system:serviceaccounts", "system:serviceaccounts:ai-implement", "system:authenticated"],
                "resourceAttributes": {
                    "verb": verb,
                    "group": group,
                    "resource": resource.split("/")[0],
                    "subresource": resource.partition("/")[2],
                    "namespace": namespace or "",
                },
            },
        },
    )
    return bool(review["status"].get("allowed"))


@pytest.mark.controlplane
async def test_the_service_account_may_do_what_the_processes_do_and_no_more(kube: KubeClient) -> None:
    for document in base_documents():
        resource = RESOURCES[document["kind"]]
        namespace = document["metadata"].get("namespace") if resource.namespaced else None
        await kube.apply(resource, namespace, document, "manifest-test", force=True)
    needed = [
        ("create", "ai-implement.dev", "dispatches"),
        ("watch", "ai-implement.dev", "projectmappings"),
        ("patch", "ai-implement.dev", "projectmappings/status"),
        ("patch", "ai-implement.dev", "dispatches/status"),
        ("delete", "ai-implement.dev", "runnersessions"),
        ("update", "coordination.k8s.io", "leases"),
        ("patch", "", "secrets"),
        ("create", "", "events"),
    ]
    for verb, group, resource in needed:
        assert await allowed(kube, verb, group, resource, "ai-implement"), (verb, group, resource)
    assert await allowed(kube, "list", "apiextensions.k8s.io", "customresourcedefinitions", None)
    not_needed = [
        ("delete", "", "secrets", "ai-implement"),
        ("create", "", "pods", "ai-implement"),
        ("create", "ai-implement.dev", "dispatches", "default"),
        ("delete", "apiextensions.k8s.io", "customresourcedefinitions", None),
    ]
    for verb, group, resource, namespace in not_needed:
        assert not await allowed(kube, verb, group, resource, namespace), (verb, group, resource, namespace)


def test_the_service_monitor_scrapes_both_processes() -> None:
    monitor = yaml.safe_load((BASE.parent / "components" / "monitoring" / "servicemonitor.yaml").read_text())
    (service,) = [d for d in base_documents() if d["kind"] == "Service"]
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {p["name"] for p in service["spec"]["ports"]}
    assert all(e["path"] == "/metrics" for e in monitor["spec"]["endpoints"])
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "ai-implement"}
