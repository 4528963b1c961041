"""/api/jira/*: Jira's parser and fields, through the real client and the Jira sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from controller.config import load_settings
from controller.sandbox import JiraSandbox
from controller.sandbox.jira import FieldKind
from controller.ticketing.clients import open_ticketing_clients
from tests.support.api_fixtures import Api, ApiFactory

CLOUD_ID = "0f8b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
USER_TOKEN = "jira-user-token"
ADMIN_TOKEN = "jira-admin-token"


@pytest.fixture
async def jira_site() -> AsyncIterator[JiraSandbox]:
    sandbox = JiraSandbox()
    sandbox.add_site(CLOUD_ID, site_url="https://acme.atlassian.net")
    sandbox.add_user("Grace Hopper", "grace@example.com", token=USER_TOKEN)
    sandbox.add_user("Jira Admin", "admin@example.com", token=ADMIN_TOKEN, admin=True)
    sandbox.add_project("PAY", "Payments")
    sandbox.add_field("Repo", FieldKind.SELECT, options=["payments-service", "ledger"])
    async with sandbox.running():
        yield sandbox


async def jira_api(start_api: ApiFactory, stack: AsyncExitStack, sandbox: JiraSandbox, token: str) -> Api:
    env = {
        "JIRA_TOKEN": token,
        "JIRA_CLOUD_ID": CLOUD_ID,
        "JIRA_SITE_URL": "https://acme.atlassian.net",
        "JIRA_API_BASE_URL": str(sandbox.url),
    }
    clients = await open_ticketing_clients(load_settings(env, env_file=None), stack)
    api = await start_api(env=env)
    api.context.jira = clients.jira
    return api


async def test_jql_is_checked_by_jiras_own_parser(start_api: ApiFactory, jira_site: JiraSandbox) -> None:
    async with AsyncExitStack() as stack:
        api = await jira_api(start_api, stack, jira_site, USER_TOKEN)
        headers = await api.login()
        good = await (
            await api.client.post("/api/jira/validate-jql", json={"jql": "project = PAY"}, headers=headers)
        ).json()
        assert (good["valid"], good["errors"]) == (True, [])
        bad = await api.client.post("/api/jira/validate-jql", json={"jql": "project = = PAY"}, headers=headers)
        verdict = await bad.json()
        assert (bad.status, verdict["valid"]) == (200, False)
        assert verdict["errors"]


async def test_fields_and_options(start_api: ApiFactory, jira_site: JiraSandbox) -> None:
    async with AsyncExitStack() as stack:
        admin = await jira_api(start_api, stack, jira_site, ADMIN_TOKEN)
        headers = await admin.login()
        fields = (await (await admin.client.get("/api/jira/fields", headers=headers)).json())["fields"]
        repo = next(f for f in fields if f["name"] == "Repo")
        assert repo["custom"] is True
        options = await admin.client.get(f"/api/jira/field-options?fieldId={repo['id']}", headers=headers)
        assert [o["value"] for o in (await options.json())["options"]] == ["payments-service", "ledger"]
        assert (await admin.client.get("/api/jira/field-options", headers=headers)).status == 422


async def test_field_options_need_an_administrator(start_api: ApiFactory, jira_site: JiraSandbox) -> None:
    async with AsyncExitStack() as stack:
        api = await jira_api(start_api, stack, jira_site, USER_TOKEN)
        response = await api.client.get("/api/jira/field-options?fieldId=customfield_10042", headers=await api.login())
        assert response.status == 403
        assert "administrator" in (await response.json())["error"]["message"]


async def test_without_jira_the_endpoints_say_what_to_set(api: Api) -> None:
    response = await api.client.get("/api/jira/fields", headers=await api.login())
    assert response.status == 503
    assert "JIRA_TOKEN" in (await response.json())["error"]["message"]
