"""Test access to a real Kubernetes API server: one started here, or the one in KUBECONFIG."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config

from controller.devcluster import ControlPlane, install_crds, locate_binaries

USE_EXISTING_CLUSTER = "AI_IMPLEMENT_USE_EXISTING_CLUSTER"


@dataclass(frozen=True)
class Cluster:
    """A reachable API server with the CRDs installed."""

    kubeconfig: Path
    api_client: client.ApiClient

    def get_json(self, path: str, accept: str = "application/json") -> Any:
        """A raw GET for what the generated client has no method for (tables, discovery, OpenAPI)."""
        request = self.api_client.param_serialize(
            method="GET", resource_path=path, header_params={"Accept": accept}, auth_settings=["BearerToken"]
        )
        response = self.api_client.call_api(*request)
        response.read()
        assert response.status == 200, f"GET {path}: {response.status} {response.data!r}"
        return json.loads(response.data)

    def new_namespace(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        client.CoreV1Api(self.api_client).create_namespace({"metadata": {"name": name}})
        return name


def _wants_existing_cluster() -> bool:
    return os.environ.get(USE_EXISTING_CLUSTER, "").lower() in {"1", "true", "yes"}


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """The cluster for a test session; torn down on exit only when this session started it."""
    if _wants_existing_cluster():
        kubeconfig = Path(os.environ.get("KUBECONFIG", Path.home() / ".kube" / "config"))
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        install_crds(api_client)
        yield Cluster(kubeconfig=kubeconfig, api_client=api_client)
        return
    with ControlPlane(locate_binaries()) as plane:
        api_client = config.new_client_from_config(config_file=str(plane.kubeconfig_path))
        install_crds(api_client)
        yield Cluster(kubeconfig=plane.kubeconfig_path, api_client=api_client)
