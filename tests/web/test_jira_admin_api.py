"""/api/jira/*: Jira's parser and fields, through the real client and the Jira sandbox."""

from __future__ import annotations

from contextlib import AsyncExitStack

from controller.sandbox import JiraSandbox
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.jira_site import ADMIN_TOKEN, USER_TOKEN, jira_api


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
