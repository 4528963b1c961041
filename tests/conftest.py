"""Fixtures shared by every test tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.cluster import Cluster, running_cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A real kube-apiserver and etcd (or KUBECONFIG's cluster) with the CRDs established."""
    with running_cluster() as started:
        yield started


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    """A fresh namespace, so tests never see each other's objects."""
    return cluster.new_namespace()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA key per session: generating them is slow, and any key serves as a GitHub App key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa_key_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    """The session's RSA key as an unencrypted PKCS#8 PEM, as GitHub hands it out."""
    return rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
