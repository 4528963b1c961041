"""The Fly sandbox's own contract, spoken to with plain httpx: shapes the client does not send yet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from controller.sandbox import Fault, FlySandbox
from tests.sandbox.conftest import FLY_APP, FLY_PERSONAL_TOKEN, FLY_TOKEN
from tests.sandbox.support import load_spec, schema_problems, spec_schemas

FLY_SPEC = "fly-machines-openapi.yaml"
SECRETS_PATH = f"/v1/apps/{FLY_APP}/secrets"


@pytest.fixture
async def http(fly_sandbox: FlySandbox) -> AsyncIterator[httpx.AsyncClient]:
    assert fly_sandbox.url is not None
    headers = {"Authorization": f"FlyV1 {FLY_TOKEN}"}
    async with httpx.AsyncClient(base_url=fly_sandbox.url, headers=headers) as client:
        yield client


async def test_the_bulk_form_sets_and_deletes_in_one_version(http: httpx.AsyncClient, fly_sandbox: FlySandbox) -> None:
    await http.post(f"{SECRETS_PATH}/OLD", json={"value": "old"})

    response = await http.post(SECRETS_PATH, json={"values": {"NEW": "new", "OTHER": "x", "OLD": None}})

    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2
    assert sorted(secret["name"] for secret in body["secrets"]) == ["NEW", "OTHER"]
    assert all("value" not in secret for secret in body["secrets"])
    assert sorted(fly_sandbox.apps[FLY_APP].secrets) == ["NEW", "OTHER"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([{"key": "NAME", "value": "v"}], id="list-of-key-value"),
        pytest.param({"secrets": {"NAME": "v"}}, id="secrets-object"),
        pytest.param({"values": {"NAME": 1}}, id="non-string-value"),
        pytest.param({"values": {"not a name": "v"}}, id="invalid-name"),
        pytest.param({"values": {"NAME": "v"}, "replace_all": True}, id="unknown-key"),
    ],
)
async def test_shapes_only_third_party_code_sends_are_400(
    http: httpx.AsyncClient, fly_sandbox: FlySandbox, body: Any
) -> None:
    response = await http.post(SECRETS_PATH, json=body)

    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)
    assert fly_sandbox.apps[FLY_APP].secrets == {}
    assert fly_sandbox.apps[FLY_APP].secrets_version == 0


async def test_values_are_shown_only_when_asked_and_allowed(http: httpx.AsyncClient, fly_sandbox: FlySandbox) -> None:
    await http.post(f"{SECRETS_PATH}/NAME", json={"value": "v"})
    personal = {"Authorization": f"Bearer {FLY_PERSONAL_TOKEN}"}

    deploy_token_asks = await http.get(SECRETS_PATH, params={"show_secrets": "true"})
    allowed_token_asks = await http.get(SECRETS_PATH, params={"show_secrets": "true"}, headers=personal)
    allowed_token_does_not_ask = await http.get(SECRETS_PATH, headers=personal)

    assert "value" not in deploy_token_asks.json()["secrets"][0]
    assert allowed_token_asks.json()["secrets"][0]["value"] == "v"
    assert "value" not in allowed_token_does_not_ask.json()["secrets"][0]


async def test_one_secret_can_be_read_by_name(http: httpx.AsyncClient) -> None:
    await http.post(f"{SECRETS_PATH}/NAME", json={"value": "v"})

    found = await http.get(f"{SECRETS_PATH}/NAME")
    missing = await http.get(f"{SECRETS_PATH}/MISSING")

    assert found.json()["name"] == "NAME"
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", f"Token {FLY_TOKEN}", "FlyV1 fm2_unknown", f"FlyV1 {FLY_TOKEN}x"],
)
async def test_missing_or_unknown_credentials_are_401(fly_sandbox: FlySandbox, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    assert fly_sandbox.url is not None
    async with httpx.AsyncClient(base_url=fly_sandbox.url, headers=headers) as client:
        response = await client.get(f"/v1/apps/{FLY_APP}")

    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


async def test_every_response_carries_a_fly_request_id(http: httpx.AsyncClient, fly_sandbox: FlySandbox) -> None:
    fly_sandbox.inject(Fault.rate_limited())
    fly_sandbox.inject(Fault.unavailable(500))
    responses = [
        await http.get(f"/v1/apps/{FLY_APP}"),
        await http.get(f"/v1/apps/{FLY_APP}"),
        await http.get(f"/v1/apps/{FLY_APP}"),
        await http.get("/v1/apps/nope"),
        await http.get("/v1/nowhere"),
        await http.get(f"/v1/apps/{FLY_APP}", headers={"Authorization": "Bearer wrong"}),
    ]

    assert [response.status_code for response in responses] == [429, 500, 200, 401, 404, 401]
    request_ids = [response.headers.get("fly-request-id") for response in responses]
    assert all(request_ids)
    assert len(set(request_ids)) == len(request_ids)


async def test_the_app_answer_matches_the_published_app_schema(http: httpx.AsyncClient) -> None:
    schemas = spec_schemas(FLY_SPEC)

    body = (await http.get(f"/v1/apps/{FLY_APP}")).json()

    assert schema_problems(body, {"$ref": "#/components/schemas/App"}, schemas) == []
    assert set(body) == {"id", "name", "status", "organization"}


async def test_error_bodies_match_the_published_error_schema(http: httpx.AsyncClient, fly_sandbox: FlySandbox) -> None:
    schemas = spec_schemas(FLY_SPEC)
    fly_sandbox.inject(Fault.rate_limited())
    fly_sandbox.inject(Fault.unavailable(503))
    bodies = [
        (await http.get(f"/v1/apps/{FLY_APP}")).json(),
        (await http.get(f"/v1/apps/{FLY_APP}")).json(),
        (await http.delete(f"{SECRETS_PATH}/MISSING")).json(),
        (await http.post(SECRETS_PATH, json=[])).json(),
    ]

    for body in bodies:
        assert schema_problems(body, {"$ref": "#/components/schemas/ErrorResponse"}, schemas) == []


def test_the_published_description_predates_app_secrets() -> None:
    """The 2024-01 description has no secrets paths: their shapes come from fly-go (EXTERNAL_APIS.md §4.4)."""
    paths = load_spec(FLY_SPEC)["paths"]

    assert not [path for path in paths if "secrets" in path]
