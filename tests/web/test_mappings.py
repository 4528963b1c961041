"""/api/mappings reads and writes ProjectMapping resources on the real API server."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller import constants
from controller.kube import PROJECT_MAPPINGS, KubeClient
from tests.support.api_fixtures import Api
from tests.support.waiting import eventually

LINEAR_MAPPING: dict[str, Any] = {
    "teamKey": "ENG",
    "ticketing": {"provider": "linear"},
    "source": {"owner": "acme", "repo": "webapp", "defaultBranch": "main"},
}


async def listed(api: Api, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await api.client.get("/api/mappings", headers=headers)
    assert response.status == 200
    mappings: list[dict[str, Any]] = (await response.json())["mappings"]
    return mappings


async def test_post_creates_then_updates_and_the_list_follows(api: Api) -> None:
    headers = await api.login()
    created = await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=headers)
    assert created.status == 201, await created.text()
    body = await created.json()
    assert body["name"] == "eng"
    assert body["spec"]["capacity"] == {"maxInProgressAiIssues": 1, "maxTurns": 50, "maxJobMinutes": 90}

    async def cached() -> bool:
        return [m["teamKey"] for m in await listed(api, headers)] == ["ENG"]

    await eventually(cached)
    changed = copy.deepcopy(LINEAR_MAPPING) | {"capacity": {"maxInProgressAiIssues": 4, "maxTurns": 20}}
    updated = await api.client.post("/api/mappings", json=changed, headers=headers)
    assert updated.status == 200
    assert (await updated.json())["spec"]["capacity"]["maxTurns"] == 20

    audit = await api.context.store.recent_audit(10)
    assert [entry.action for entry in audit] == ["mapping.apply", "mapping.apply"]


async def test_fields_left_out_of_a_post_return_to_their_defaults(api: Api) -> None:
    headers = await api.login()
    tight = copy.deepcopy(LINEAR_MAPPING) | {"capacity": {"maxTurns": 10}}
    await api.client.post("/api/mappings", json=tight, headers=headers)
    again = await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=headers)
    assert (await again.json())["spec"]["capacity"]["maxTurns"] == 50


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"provider": {"name": "bedrock"}}, "provider.awsRegion is required when provider.name is bedrock"),
        (
            {"provider": {"name": "bedrock", "awsRegion": "eu-west-1"}, "runner": {"executionMode": "fly-machines"}},
            "provider bedrock cannot use runner.executionMode fly-machines",
        ),
        ({"ticketing": {"provider": "jira"}}, "ticketing.jira (jql, repoField, repoFieldValue) is required"),
    ],
)
async def test_the_api_servers_own_rejection_comes_back_as_422(api: Api, change: dict[str, Any], message: str) -> None:
    response = await api.client.post("/api/mappings", json=LINEAR_MAPPING | change, headers=await api.login())
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "rejected_by_api_server"
    assert message in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in LINEAR_MAPPING.items() if k != "source"}, "source"),
        (LINEAR_MAPPING | {"source": {"owner": "acme", "repo": "webapp"}}, "source.defaultBranch"),
        (LINEAR_MAPPING | {"runner": {"executionMode": "kubernetes-job"}}, "runner.executionMode"),
        (LINEAR_MAPPING | {"teamKey": "eng"}, "teamKey"),
        (LINEAR_MAPPING | {"surprise": True}, "surprise"),
    ],
)
async def test_bodies_that_break_the_models_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = await api.client.post("/api/mappings", json=body, headers=await api.login())
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "validation_failed"
    assert field in [detail["field"] for detail in error["details"]]


async def test_patch_changes_the_cap_and_pause_only(api: Api) -> None:
    headers = await api.login()
    await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=headers)
    response = await api.client.patch(
        "/api/mappings/ENG", json={"maxInProgressAiIssues": 3, "paused": True}, headers=headers
    )
    assert response.status == 200
    spec = (await response.json())["spec"]
    assert spec["capacity"]["maxInProgressAiIssues"] == 3
    assert spec["paused"] is True
    assert spec["capacity"]["maxTurns"] == 50


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        ({"maxTurns": 5}, 422),
        ({"source": {"repo": "other"}}, 422),
        ({}, 422),
        ({"maxInProgressAiIssues": -1}, 422),
        ({"paused": "yes please"}, 422),
    ],
)
async def test_patch_refuses_anything_else(api: Api, patch: dict[str, Any], status: int) -> None:
    headers = await api.login()
    await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=headers)
    response = await api.client.patch("/api/mappings/ENG", json=patch, headers=headers)
    assert response.status == status


async def test_patch_and_delete_of_an_unknown_mapping_are_404(api: Api) -> None:
    headers = await api.login()
    assert (await api.client.patch("/api/mappings/NOPE", json={"paused": True}, headers=headers)).status == 404
    assert (await api.client.delete("/api/mappings/NOPE", headers=headers)).status == 404
    assert (await api.client.delete("/api/mappings/not a key!", headers=headers)).status == 404


async def test_delete_removes_the_resource(api: Api, kube: KubeClient) -> None:
    headers = await api.login()
    await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=headers)
    assert (await api.client.delete("/api/mappings/ENG", headers=headers)).status == 204
    listing = await kube.list(PROJECT_MAPPINGS, api.context.namespace)
    assert listing.items == []


async def test_kubectl_apply_of_the_same_object_does_not_fight_the_api(api: Api, kube: KubeClient) -> None:
    headers = await api.login()
    await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=headers)
    manifest = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": "eng", "namespace": api.context.namespace},
        "spec": LINEAR_MAPPING,
    }
    await kube.apply(PROJECT_MAPPINGS, api.context.namespace, manifest, "kubectl")
    await kube.merge_patch(
        PROJECT_MAPPINGS, api.context.namespace, "eng", {"spec": {"paused": True}}, field_manager="kubectl-edit"
    )

    async def shows_pause() -> bool:
        return [m["spec"]["paused"] for m in await listed(api, headers)] == [True]

    await eventually(shows_pause)


async def test_mappings_applied_with_kubectl_appear_in_the_api(api: Api, kube: KubeClient) -> None:
    headers = await api.login()
    manifest = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": "ops-team", "namespace": api.context.namespace},
        "spec": LINEAR_MAPPING | {"teamKey": "OPS_TEAM"},
    }
    await kube.apply(PROJECT_MAPPINGS, api.context.namespace, manifest, "kubectl")

    async def appears() -> bool:
        return [m["teamKey"] for m in await listed(api, headers)] == ["OPS_TEAM"]

    await eventually(appears)


@pytest.mark.parametrize(
    ("jql", "said"),
    [
        ("x)) OR ((y", "closes a parenthesis it never opened"),
        ("project = PAY ORDER BY created", "ORDER BY"),
        ("(project = PAY", "parenthesis(es) open"),
        ('summary ~ "open', "quoted string open"),
    ],
    ids=["escapes-its-parentheses", "order-by", "unclosed", "open-quote"],
)
async def test_a_jira_jql_that_could_escape_the_combined_poll_is_refused(api: Api, jql: str, said: str) -> None:
    body = {
        "teamKey": "PAY",
        "ticketing": {"provider": "jira", "jira": {"jql": jql, "repoField": "Repo", "repoFieldValue": "pay"}},
        "source": {"owner": "acme", "repo": "pay", "defaultBranch": "main"},
    }

    response = await api.client.post("/api/mappings", json=body, headers=await api.login())

    assert response.status == 422
    [detail] = (await response.json())["error"]["details"]
    assert detail["field"] == "ticketing.jira.jql"
    assert said in detail["message"]


async def mapping_page(api: Api, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = await api.client.get("/api/mappings", params=params, headers=headers)
    assert response.status == 200, await response.text()
    page: dict[str, Any] = await response.json()
    return page


async def test_paging_lists_every_mapping_once_in_team_key_order_both_ways(api: Api, kube: KubeClient) -> None:
    headers = await api.login()
    team_keys = ["OPS", "API", "WEB", "DATA", "ENG"]
    for team_key in team_keys:
        manifest = {
            "apiVersion": constants.API_VERSION,
            "kind": constants.PROJECT_MAPPING_KIND,
            "metadata": {"name": team_key.lower(), "namespace": api.context.namespace},
            "spec": LINEAR_MAPPING | {"teamKey": team_key},
        }
        await kube.apply(PROJECT_MAPPINGS, api.context.namespace, manifest, "kubectl")
    await eventually(lambda: len(api.context.mappings.items()) == len(team_keys))

    everything = await mapping_page(api, headers)
    pages = [await mapping_page(api, headers, limit="2")]
    while pages[-1]["nextCursor"] is not None:
        pages.append(await mapping_page(api, headers, limit="2", cursor=pages[-1]["nextCursor"]))
    backwards = [pages[-1]]
    while backwards[0]["previousCursor"] is not None:
        backwards.insert(0, await mapping_page(api, headers, limit="2", cursor=backwards[0]["previousCursor"]))

    assert [m["teamKey"] for m in everything["mappings"]] == sorted(team_keys)
    assert (everything["nextCursor"], everything["previousCursor"], everything["total"]) == (None, None, 5)
    assert [[m["teamKey"] for m in page["mappings"]] for page in pages] == [["API", "DATA"], ["ENG", "OPS"], ["WEB"]]
    assert [page["previousCursor"] is None for page in pages] == [True, False, False]
    assert {page["total"] for page in pages} == {5}
    assert [[m["teamKey"] for m in page["mappings"]] for page in backwards] == [
        ["API", "DATA"],
        ["ENG", "OPS"],
        ["WEB"],
    ]


@pytest.mark.parametrize(
    ("query", "code", "said"),
    [
        ("limit=0", "invalid_limit", "limit='0' is not a whole number from 1 to 500"),
        ("limit=501", "invalid_limit", "limit='501' is not a whole number from 1 to 500"),
        ("limit=ten", "invalid_limit", "limit='ten' is not a whole number from 1 to 500"),
        ("cursor=not-a-cursor", "invalid_cursor", "cursor='not-a-cursor' is not a cursor of this listing"),
        (
            "cursor=eyJhZnRlciI6WyJFTkciLCJFTkctMSIsImlkIl19",  # {"after":["ENG","ENG-1","id"]}: one of /api/issues
            "invalid_cursor",
            "pass the nextCursor or previousCursor of an earlier answer",
        ),
        ("page=2", "unknown_query_parameter", "unknown query parameter 'page': this endpoint takes cursor, limit"),
    ],
    ids=["limit-zero", "limit-above-the-maximum", "limit-not-a-number", "garbage", "another-listings", "misspelt"],
)
async def test_a_page_that_cannot_be_read_is_refused_naming_the_parameter(
    api: Api, query: str, code: str, said: str
) -> None:
    response = await api.client.get(f"/api/mappings?{query}", headers=await api.login())

    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == code
    assert said in error["message"]
