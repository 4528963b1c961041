"""Choosing and loading credentials, each proven by a request to a real API server."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from controller.kube import (
    PROJECT_MAPPINGS,
    KubeClient,
    KubeConfigError,
    KubeConnection,
    connection_from_kubeconfig,
    connection_in_cluster,
    connection_to,
    load_connection,
)
from tests.support.cluster import Cluster

pytestmark = pytest.mark.controlplane


@dataclass(frozen=True)
class ServiceAccountFiles:
    """What a pod would find: the service host and port in its environment, a token and a CA file."""

    environ: dict[str, str]
    token_file: Path
    ca_file: Path

    @property
    def server(self) -> str:
        return f"https://{self.environ['KUBERNETES_SERVICE_HOST']}:{self.environ['KUBERNETES_SERVICE_PORT']}"


@pytest.fixture
def service_account(cluster: Cluster, tmp_path: Path) -> ServiceAccountFiles:
    kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())
    server = kubeconfig["clusters"][0]["cluster"]
    host, port = server["server"].removeprefix("https://").rsplit(":", 1)
    token_file = tmp_path / "token"
    token_file.write_text(kubeconfig["users"][0]["user"]["token"])
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(base64.b64decode(server["certificate-authority-data"]))
    environ = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
    return ServiceAccountFiles(environ, token_file, ca_file)


async def can_list_mappings(connection: KubeConnection) -> bool:
    async with KubeClient(connection) as client:
        await client.list(PROJECT_MAPPINGS, "default")
        return await client.healthy()


async def test_a_kubeconfig_with_ca_data_and_token_reaches_the_server(cluster: Cluster) -> None:
    connection = connection_from_kubeconfig(cluster.kubeconfig)

    assert connection.source == f"kubeconfig {cluster.kubeconfig}"
    assert not connection.insecure
    assert await can_list_mappings(connection)


async def test_the_service_account_reaches_the_server(service_account: ServiceAccountFiles) -> None:
    connection = connection_in_cluster(
        service_account.environ, token_file=service_account.token_file, ca_file=service_account.ca_file
    )

    assert connection.source == "in-cluster service account"
    assert await can_list_mappings(connection)


async def test_a_connection_described_by_hand_with_ca_data_reaches_the_server(
    service_account: ServiceAccountFiles,
) -> None:
    connection = connection_to(
        service_account.server,
        ca_data=service_account.ca_file.read_text(),
        bearer_token=service_account.token_file.read_text(),
    )

    assert await can_list_mappings(connection)
    assert service_account.token_file.read_text() not in repr(connection)


def test_a_client_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="needs both a certificate and a key"):
        connection_to("https://127.0.0.1:6443", client_cert_file=tmp_path / "client.crt")


def test_an_explicit_path_wins_over_kubeconfig_and_in_cluster(cluster: Cluster, tmp_path: Path) -> None:
    environ = {"KUBECONFIG": str(tmp_path / "elsewhere"), "KUBERNETES_SERVICE_HOST": "10.0.0.1"}

    connection = load_connection(cluster.kubeconfig, environ=environ)

    assert connection.source == f"kubeconfig {cluster.kubeconfig}"


def test_kubeconfig_wins_over_in_cluster(cluster: Cluster) -> None:
    environ = {"KUBECONFIG": str(cluster.kubeconfig), "KUBERNETES_SERVICE_HOST": "10.0.0.1"}

    assert load_connection(environ=environ).source == f"kubeconfig {cluster.kubeconfig}"


def test_in_cluster_wins_over_the_home_kubeconfig(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(cluster.kubeconfig.read_text())
    environ = {"HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

    with pytest.raises(KubeConfigError, match="in-cluster credentials are not usable"):
        load_connection(environ=environ)


def test_the_home_kubeconfig_is_the_last_resort(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(cluster.kubeconfig.read_text())

    connection = load_connection(environ={"HOME": str(tmp_path)})

    assert connection.source == f"kubeconfig {tmp_path / '.kube' / 'config'}"


def test_no_credentials_anywhere_names_every_source_tried(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError) as raised:
        load_connection(environ={"HOME": str(tmp_path)})

    message = str(raised.value)
    for tried in ("no kubeconfig path was given", "KUBECONFIG is unset", "KUBERNETES_SERVICE_HOST is unset"):
        assert tried in message
    assert str(tmp_path / ".kube" / "config") in message


def test_a_missing_kubeconfig_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match=f"kubeconfig {tmp_path / 'absent'} does not exist"):
        connection_from_kubeconfig(tmp_path / "absent")


def test_an_unknown_context_is_named(cluster: Cluster) -> None:
    with pytest.raises(KubeConfigError, match=r"\(context staging\) is not usable"):
        connection_from_kubeconfig(cluster.kubeconfig, context="staging")
