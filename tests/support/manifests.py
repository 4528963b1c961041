"""The deployment manifests as the API server sees them: rendered by kustomize, applied by kind.

kustomize is built by `make install` (hack/build-kustomize.sh) and the Prometheus Operator's CRDs
are fetched from its Go module (hack/fetch-monitoring-crds.sh), both into ~/.cache/ai-implement.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.kube import KubeClient
from controller.kube.kinds import ApiResource

ROOT = Path(__file__).parents[2]
MANIFESTS = ROOT / "manifests"
FIELD_MANAGER = "manifest-test"

RESOURCES = {
    resource.kind: resource
    for resource in (
        ApiResource("", "v1", "Namespace", "namespaces", namespaced=False),
        ApiResource("", "v1", "ServiceAccount", "serviceaccounts"),
        ApiResource("", "v1", "Secret", "secrets"),
        ApiResource("", "v1", "ConfigMap", "configmaps"),
        ApiResource("", "v1", "Service", "services"),
        ApiResource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
        ApiResource("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        ApiResource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
        ApiResource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
        ApiResource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
        ApiResource("apps", "v1", "Deployment", "deployments"),
        ApiResource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"),
        ApiResource("networking.k8s.io", "v1", "Ingress", "ingresses"),
        ApiResource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
        ApiResource("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"),
        ApiResource("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"),
        ApiResource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    )
}


def _built(script: str, what: str) -> str:
    built = subprocess.run(["bash", str(ROOT / "hack" / script)], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        pytest.fail(f"{what} could not be prepared (make install prepares it): {built.stderr[-2000:]}")
    return built.stdout.strip()


@functools.cache
def kustomize() -> str:
    return _built("build-kustomize.sh", "kustomize")


@functools.cache
def monitoring_crds() -> list[dict[str, Any]]:
    """The CustomResourceDefinitions of ServiceMonitor, PodMonitor and PrometheusRule."""
    directory = Path(_built("fetch-monitoring-crds.sh", "the Prometheus Operator's CRDs"))
    return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]


def render(directory: Path) -> list[dict[str, Any]]:
    """What `kubectl apply -k directory` would apply."""
    built = subprocess.run([kustomize(), "build", str(directory)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, f"kustomize build {directory} failed: {built.stderr}"
    return [document for document in yaml.safe_load_all(built.stdout) if document]


def copy_with_local_files(destination: Path) -> Path:
    """The manifests tree with the files an operator keeps out of git (the kind overlay's env and key)."""
    tree = destination / "manifests"
    shutil.copytree(MANIFESTS, tree)
    kind = tree / "overlays" / "kind"
    shutil.copy(kind / "kind.env.example", kind / "kind.env")
    (kind / "github-app.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n")
    return tree


def of_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [document for document in documents if document["kind"] == kind]


def one(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = of_kind(documents, kind)
    return found


async def apply_documents(kube: KubeClient, documents: list[dict[str, Any]], *, dry_run: bool) -> None:
    """Server-side apply of each document; Namespaces for real (a dry run in a missing namespace fails)."""
    for document in sorted(documents, key=lambda d: d["kind"] != "Namespace"):
        resource = RESOURCES[document["kind"]]
        namespace = document["metadata"].get("namespace") if resource.namespaced else None
        real = not dry_run or document["kind"] == "Namespace"
        await kube.apply(resource, namespace, document, FIELD_MANAGER, force=True, dry_run=not real)
