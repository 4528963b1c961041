"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import create_async_engine

from controller.kube import KubeClient, connection_from_kubeconfig
from controller.store import Store, database_url, upgrade_database
from controller.store.urls import normalise_database_url
from tests.support.clock import START_TOLERANCE, far_starts, forget_starts
from tests.support.cluster import Cluster, running_cluster
from tests.support.databases import Databases, PostgresDatabases, SqliteDatabases, database_on
from tests.support.postgres import MISSING_SERVER_BINARIES, find_server_binaries, throwaway_postgres_server

pytest_plugins = ("tests.support.api_fixtures", "tests.operator.run_fixtures")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the real API server `controlplane`, so `-m "not controlplane"` leaves them out."""
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.controlplane)


@pytest.fixture(autouse=True)
def clocks_meeting_the_control_plane_start_now(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test that runs against the real API server with a hand-moved clock started on a fixed date.

    The server stamps objects with the real time; a clock started elsewhere passes only on the day
    the test was written (see tests/support/clock.py and docs/testing.md, "Time in tests").
    """
    forget_starts()
    yield
    if "cluster" not in request.fixturenames:
        return
    far = far_starts()
    if far:
        lines = [
            f"  {start.where}: started at {start.started_at:%Y-%m-%d %H:%M:%S}Z, {start.offset} from now"
            for start in far
        ]
        pytest.fail(
            "a hand-moved clock started more than "
            f"{START_TOLERANCE} away from the real time in a test that uses the real API server; "
            "start it at the real now (FakeClock()) and move it with advance():\n" + "\n".join(lines),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A real kube-apiserver and etcd (or KUBECONFIG's cluster) with the CRDs established."""
    with running_cluster() as started:
        yield started


@pytest.fixture
async def kube(cluster: Cluster) -> AsyncIterator[KubeClient]:
    """Our async Kubernetes client on the test cluster."""
    async with KubeClient(connection_from_kubeconfig(cluster.kubeconfig)) as client:
        yield client


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


# The store: every test using `store` or `databases` runs on SQLite and on PostgreSQL.


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """An administrative URL of the server the PostgreSQL tests use, started here unless given."""
    given = os.environ.get("AI_IMPLEMENT_TEST_POSTGRES_URL")
    if given:
        yield normalise_database_url(given)
        return
    binaries = find_server_binaries()
    if binaries is None:
        pytest.fail(MISSING_SERVER_BINARIES, pytrace=False)
    with throwaway_postgres_server(binaries) as url:
        yield url


@pytest.fixture(scope="session")
async def postgres_databases(postgres_server_url: str) -> AsyncIterator[PostgresDatabases]:
    """Creates test databases from a template migrated once; CREATE DATABASE needs autocommit."""
    admin = create_async_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    databases = PostgresDatabases(
        server_url=postgres_server_url, admin=admin, template=f"ai_implement_template_{uuid.uuid4().hex[:12]}"
    )
    await databases.create(databases.template)
    try:
        await upgrade_database(database_on(postgres_server_url, databases.template))
        yield databases
    finally:
        await databases.drop(databases.template)
        await admin.dispose()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test's file is copied from."""
    path = tmp_path_factory.mktemp("sqlite-template") / "store.sqlite"
    await upgrade_database(database_url(None, str(path)))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Databases:
    """The backend under test; the PostgreSQL server starts only when a PostgreSQL test needs it."""
    if request.param == "sqlite":
        return SqliteDatabases(template=request.getfixturevalue("sqlite_template"), directory=tmp_path)
    if os.environ.get("AI_IMPLEMENT_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("AI_IMPLEMENT_TEST_SKIP_POSTGRES=1")
    postgres: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return postgres


@pytest.fixture
async def migrated_database_url(databases: Databases) -> AsyncIterator[str]:
    """A fresh database at the newest schema, for tests that open several stores on it."""
    async with databases.fresh(migrated=True) as url:
        yield url


@pytest.fixture
async def store(migrated_database_url: str) -> AsyncIterator[Store]:
    """A store on a fresh, migrated database of the backend under test."""
    async with Store.from_url(migrated_database_url) as opened:
        yield opened
