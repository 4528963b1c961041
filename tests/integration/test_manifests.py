"""The deployment manifests — the base, every overlay and every component — as kustomize renders them:
accepted by a real API server, and saying what they must."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.config import Settings
from controller.kube import KubeApiError, KubeClient, connection_from_kubeconfig
from controller.web.app import all_endpoints
from controller.web.routing import Access
from tests.support.cluster import Cluster
from tests.support.manifests import (
    MANIFESTS,
    RESOURCES,
    ROOT,
    apply_documents,
    copy_with_local_files,
    monitoring_crds,
    of_kind,
    one,
    render,
)

BASE = MANIFESTS / "base"
OVERLAYS = sorted(path.name for path in (MANIFESTS / "overlays").iterdir() if path.is_dir())
COMPONENTS = sorted(path.name for path in (MANIFESTS / "components").iterdir() if path.is_dir())


def base() -> list[dict[str, Any]]:
    return render(BASE)


def overlay(name: str, tmp_path: Path) -> list[dict[str, Any]]:
    return render(copy_with_local_files(tmp_path) / "overlays" / name)


def with_component(name: str, tmp_path: Path) -> list[dict[str, Any]]:
    """The base with one component, as an overlay that adds only it would be."""
    tree = copy_with_local_files(tmp_path)
    directory = tree / "overlays" / f"with-{name}"
    directory.mkdir()
    kustomization = {"resources": ["../../base"], "components": [f"../../components/{name}"]}
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return render(directory)


def containers(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    pod = one(documents, "Deployment")["spec"]["template"]["spec"]
    return {container["name"]: container for container in pod["containers"]}


def test_every_file_of_the_base_is_in_its_kustomization() -> None:
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    assert listed == {path.name for path in BASE.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_overlays_and_components_are_the_documented_ones() -> None:
    assert OVERLAYS == ["client-example", "ha", "kind"]
    assert COMPONENTS == ["monitoring", "network-policy", "public-ingress"]
    documented = (ROOT / "docs" / "deployment.md").read_text()
    for name in OVERLAYS:
        assert f"manifests/overlays/{name}" in documented, name
    for name in COMPONENTS:
        assert f"components/{name}" in documented, name


@pytest.fixture(scope="module")
async def monitoring_kinds(cluster: Cluster) -> None:
    """The Prometheus Operator's own CRDs, so its objects are checked against their real schemas."""
    async with KubeClient(connection_from_kubeconfig(cluster.kubeconfig)) as kube:
        await apply_documents(kube, monitoring_crds(), dry_run=False)


@pytest.mark.controlplane
async def test_the_base_is_accepted_by_the_api_server(kube: KubeClient) -> None:
    await apply_documents(kube, base(), dry_run=True)


@pytest.mark.controlplane
@pytest.mark.parametrize("name", OVERLAYS)
async def test_every_overlay_is_accepted_by_the_api_server(
    name: str, kube: KubeClient, tmp_path: Path, monitoring_kinds: None
) -> None:
    await apply_documents(kube, overlay(name, tmp_path), dry_run=True)


@pytest.mark.controlplane
@pytest.mark.parametrize("name", COMPONENTS)
async def test_every_component_is_accepted_by_the_api_server(
    name: str, kube: KubeClient, tmp_path: Path, monitoring_kinds: None
) -> None:
    documents = with_component(name, tmp_path)
    assert len(documents) > len(base())
    await apply_documents(kube, documents, dry_run=True)


@pytest.mark.controlplane
async def test_a_broken_object_is_refused_so_the_dry_runs_mean_something(
    kube: KubeClient, tmp_path: Path, monitoring_kinds: None
) -> None:
    rule = one(with_component("monitoring", tmp_path), "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "soon"
    with pytest.raises(KubeApiError, match="for"):
        await apply_documents(kube, [rule], dry_run=True)


def test_every_kind_rendered_is_one_the_tests_can_apply(tmp_path: Path) -> None:
    kinds = {document["kind"] for name in OVERLAYS for document in overlay(name, tmp_path / name)}
    kinds |= {document["kind"] for name in COMPONENTS for document in with_component(name, tmp_path / f"c-{name}")}
    assert kinds <= set(RESOURCES), kinds - set(RESOURCES)


def test_there_is_no_kopf_peering_anywhere() -> None:
    """One election, the Lease: kopf runs standalone inside the leader's term."""
    assert not of_kind(base(), "KopfPeering")
    rules = [rule for d in base() if d["kind"] in ("Role", "ClusterRole") for rule in d["rules"]]
    assert not [rule for rule in rules if "kopf.dev" in rule.get("apiGroups", [])]


def test_both_processes_run_from_one_image_each_probed_on_its_own_port() -> None:
    found = containers(base())
    assert found["operator"]["args"] == ["operator"]
    assert found["api"]["args"] == ["api"]
    assert found["operator"]["image"] == found["api"]["image"]
    assert found["api"]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert found["api"]["startupProbe"]["httpGet"]["path"] == "/healthz"
    default = {name: Settings.model_fields[name].default for name in ("port", "operator_port", "metrics_port")}
    ports = {name: {p["name"]: p["containerPort"] for p in c["ports"]} for name, c in found.items()}
    assert ports == {
        "operator": {"operator-http": default["operator_port"]},
        "api": {"http": default["port"], "metrics": default["metrics_port"]},
    }
    liveness = found["operator"]["livenessProbe"]["httpGet"]
    assert (liveness["path"], liveness["port"]) == ("/healthz", "operator-http")
    service = one(base(), "Service")
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {"http", "metrics", "operator-http"}


def test_the_image_is_the_release_this_tree_is() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for container in containers(base()).values():
        assert container["image"] == f"ghcr.io/builddownai/ai-implement:{version}"


def test_the_service_monitor_scrapes_both_processes_metrics_ports(tmp_path: Path) -> None:
    documents = with_component("monitoring", tmp_path)
    monitor = one(documents, "ServiceMonitor")
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {"metrics", "operator-http"}
    assert all(e["path"] == "/metrics" for e in monitor["spec"]["endpoints"])
    selector = monitor["spec"]["selector"]["matchLabels"].items()
    assert selector
    assert selector <= one(documents, "Service")["metadata"]["labels"].items()
    assert one(documents, "ConfigMap")["metadata"]["labels"]["grafana_dashboard"] == "1"


def public_paths() -> set[str]:
    """Every route that checks its own secret (webhooks, runner callbacks, triggers): what the internet needs."""
    return {endpoint.path for endpoint in all_endpoints() if endpoint.access is Access.OWN_SECRET}


def test_the_public_ingress_publishes_exactly_the_public_paths(tmp_path: Path) -> None:
    ingress = one(with_component("public-ingress", tmp_path), "Ingress")
    (rule,) = ingress["spec"]["rules"]
    published = {(p["path"], p["pathType"]) for p in rule["http"]["paths"]}
    exact = {path for path, kind in published if kind == "Exact"}
    prefixes = {path for path, kind in published if kind == "Prefix"}
    assert prefixes == {"/runner"}
    covered = exact | {path for path in public_paths() if any(path.startswith(p + "/") for p in prefixes)}
    assert covered == public_paths()
    assert not [path for path in public_paths() if path.startswith("/api/") and path not in exact]
    assert {p["backend"]["service"]["port"]["name"] for p in rule["http"]["paths"]} == {"http"}


def test_the_network_policy_opens_only_the_api_port_to_all_and_metrics_to_prometheus(tmp_path: Path) -> None:
    documents = with_component("network-policy", tmp_path)
    policy = one(documents, "NetworkPolicy")
    open_to_all, from_monitoring = policy["spec"]["ingress"]
    assert "from" not in open_to_all
    assert [p["port"] for p in open_to_all["ports"]] == ["http"]
    assert {p["port"] for p in from_monitoring["ports"]} == {"metrics", "operator-http"}
    declared = {p["name"] for c in containers(documents).values() for p in c["ports"]}
    assert {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]} <= declared


def test_the_ha_overlay_runs_two_spread_replicas_on_postgresql(tmp_path: Path) -> None:
    documents = overlay("ha", tmp_path)
    deployment = one(documents, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert not of_kind(documents, "PersistentVolumeClaim")
    assert "data" not in {volume["name"] for volume in pod["volumes"]}
    for container in pod["containers"]:
        assert "/data" not in {mount["mountPath"] for mount in container["volumeMounts"]}
        (database,) = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
        assert database["valueFrom"]["secretKeyRef"] == {"name": "ai-implement-database", "key": "url"}
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    budget = one(documents, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert of_kind(documents, "ServiceMonitor")
    assert of_kind(documents, "NetworkPolicy")


def test_the_kind_overlay_runs_the_local_images_with_the_local_environment(tmp_path: Path) -> None:
    documents = overlay("kind", tmp_path)
    for container in containers(documents).values():
        assert container["image"] == "ai-implement:dev"
        assert container["imagePullPolicy"] == "Never"
        assert container["envFrom"] == [{"secretRef": {"name": "ai-implement-env"}}]
    environment = [s for s in of_kind(documents, "Secret") if s["metadata"]["name"] == "ai-implement-env"]
    assert environment
    assert {"GITHUB_APP_PRIVATE_KEY", "ADMIN_ACCESS_CODE"} <= set(environment[0]["data"])


def test_the_client_overlay_is_its_own_installation(tmp_path: Path) -> None:
    documents = overlay("client-example", tmp_path)
    namespaced = [d for d in documents if RESOURCES[d["kind"]].namespaced]
    assert {d["metadata"]["namespace"] for d in namespaced} == {"ai-implement-example"}
    assert one(documents, "Namespace")["metadata"]["name"] == "ai-implement-example"
    for container in containers(documents).values():
        assert {"name": "CLIENT_SLUG", "value": "example"} in container["env"]
    assert (ROOT / "clients" / "example.toml").is_file(), "the slug names a client file"
    cluster_scoped = {d["kind"] for d in documents if not RESOURCES[d["kind"]].namespaced}
    assert cluster_scoped == {"Namespace"}, "nothing else would be shared between two clients' installations"
