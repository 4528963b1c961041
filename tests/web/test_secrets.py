"""Write-only secrets in the Kubernetes Secret on the real API server, each team's kept from the others."""

from __future__ import annotations

from typing import Any

import pytest

from controller.kube import SECRETS, KubeClient
from controller.secrets import RUNNER_SECRETS_NAME
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.waiting import eventually

VALUE = "s3cr3t-value-that-must-never-come-back"
MAPPINGS = [
    {
        "teamKey": "ENG",
        "ticketing": {"provider": "linear"},
        "source": {"owner": "a", "repo": "b", "defaultBranch": "main"},
    },
    {
        "teamKey": "ENG_OPS",
        "ticketing": {"provider": "linear"},
        "source": {"owner": "a", "repo": "c", "defaultBranch": "main"},
    },
]


@pytest.fixture
async def secrets_api(start_api: ApiFactory) -> Api:
    api = await start_api()
    headers = await api.login()
    for mapping in MAPPINGS:
        assert (await api.client.post("/api/mappings", json=mapping, headers=headers)).status == 201
    await eventually(lambda: len(api.context.mappings.items()) == len(MAPPINGS))
    return api


async def names(api: Api, path: str) -> list[str]:
    response = await api.client.get(path, headers=await api.login())
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return [entry["name"] for entry in body["secrets"]]


async def test_team_secrets_are_prefixed_and_listed_per_team(secrets_api: Api) -> None:
    api, headers = secrets_api, await secrets_api.login()
    written = await api.client.post(
        "/api/mappings/ENG/secrets", json={"name": "MY_TOKEN", "value": VALUE}, headers=headers
    )
    assert written.status == 201
    assert (await written.json()) == {
        "name": "MY_TOKEN",
        "storedAs": "ENG_MY_TOKEN",
        "backend": api.context.secrets.kind,
    }
    await api.client.post("/api/mappings/ENG_OPS/secrets", json={"name": "PAGER", "value": VALUE}, headers=headers)
    await api.client.post("/api/global-secrets", json={"name": "SHARED_KEY", "value": VALUE}, headers=headers)

    assert await names(api, "/api/mappings/ENG/secrets") == ["MY_TOKEN"]
    assert await names(api, "/api/mappings/ENG_OPS/secrets") == ["PAGER"]
    assert await names(api, "/api/global-secrets") == ["SHARED_KEY"]


async def test_values_never_come_back(secrets_api: Api) -> None:
    api, headers = secrets_api, await secrets_api.login()
    responses = [
        await api.client.post("/api/mappings/ENG/secrets", json={"name": "MY_TOKEN", "value": VALUE}, headers=headers),
        await api.client.post("/api/global-secrets", json={"name": "SHARED", "value": VALUE}, headers=headers),
        await api.client.get("/api/mappings/ENG/secrets", headers=headers),
        await api.client.get("/api/global-secrets", headers=headers),
        await api.client.post("/api/global-secrets", json={"name": "bad name", "value": VALUE}, headers=headers),
    ]
    for response in responses:
        assert VALUE not in await response.text()
    for entry in await api.context.store.recent_audit(50):
        assert VALUE not in repr(entry.details)
    assert {e.action for e in await api.context.store.recent_audit(50)} >= {"secret.set"}


async def test_the_kubernetes_backend_stores_one_key_per_secret(start_api: ApiFactory, kube: KubeClient) -> None:
    api = await start_api()
    headers = await api.login()
    await api.client.post("/api/mappings", json=MAPPINGS[0], headers=headers)
    await eventually(lambda: len(api.context.mappings.items()) == 1)
    await api.client.post("/api/mappings/ENG/secrets", json={"name": "MY_TOKEN", "value": VALUE}, headers=headers)
    secret = await kube.get(SECRETS, api.context.namespace, RUNNER_SECRETS_NAME)
    assert set(secret["data"]) == {"ENG_MY_TOKEN"}


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("has-dash", "letters, digits and underscores"),
        ("with space", "letters, digits and underscores"),
        ("ENG_SNEAKY", "starts with ENG_"),
        ("ENG_OPS_SNEAKY", "starts with ENG_OPS_"),
    ],
)
async def test_global_names_follow_the_rules(secrets_api: Api, name: str, fragment: str) -> None:
    response = await secrets_api.client.post(
        "/api/global-secrets", json={"name": name, "value": VALUE}, headers=await secrets_api.login()
    )
    assert response.status == 422
    assert fragment in (await response.json())["error"]["message"]


async def test_team_names_follow_the_rules(secrets_api: Api) -> None:
    response = await secrets_api.client.post(
        "/api/mappings/ENG/secrets", json={"name": "MY-TOKEN", "value": VALUE}, headers=await secrets_api.login()
    )
    assert response.status == 422


async def test_unknown_team_and_unknown_secret_are_404(secrets_api: Api) -> None:
    api, headers = secrets_api, await secrets_api.login()
    assert (await api.client.get("/api/mappings/NOPE/secrets", headers=headers)).status == 404
    assert (
        await api.client.post("/api/mappings/NOPE/secrets", json={"name": "X", "value": VALUE}, headers=headers)
    ).status == 404
    assert (await api.client.delete("/api/global-secrets/NEVER_SET", headers=headers)).status == 404
    assert (await api.client.delete("/api/mappings/ENG/secrets/NEVER_SET", headers=headers)).status == 404


async def test_delete_removes_the_secret(secrets_api: Api) -> None:
    api, headers = secrets_api, await secrets_api.login()
    await api.client.post("/api/mappings/ENG/secrets", json={"name": "MY_TOKEN", "value": VALUE}, headers=headers)
    await api.client.post("/api/global-secrets", json={"name": "SHARED", "value": VALUE}, headers=headers)
    assert (await api.client.delete("/api/mappings/ENG/secrets/MY_TOKEN", headers=headers)).status == 204
    assert (await api.client.delete("/api/global-secrets/SHARED", headers=headers)).status == 204
    assert await names(api, "/api/mappings/ENG/secrets") == []
    assert await names(api, "/api/global-secrets") == []


async def test_deleting_a_mapping_deletes_its_secrets_too(secrets_api: Api) -> None:
    api, headers = secrets_api, await secrets_api.login()
    await api.client.post("/api/mappings/ENG/secrets", json={"name": "MY_TOKEN", "value": VALUE}, headers=headers)
    await api.client.post("/api/mappings/ENG_OPS/secrets", json={"name": "PAGER", "value": VALUE}, headers=headers)
    assert (await api.client.delete("/api/mappings/ENG", headers=headers)).status == 204
    await eventually(lambda: len(api.context.mappings.items()) == 1)
    assert await names(api, "/api/global-secrets") == []
    assert await names(api, "/api/mappings/ENG_OPS/secrets") == ["PAGER"]
    (entry,) = [e for e in await api.context.store.recent_audit(20) if e.action == "mapping.delete"]
    assert entry.details == {"deletedSecrets": ["ENG_MY_TOKEN"]}
