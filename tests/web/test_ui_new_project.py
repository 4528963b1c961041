"""+ New project through the app: eight steps checked on the server, errors beside their fields, create."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from typing import Any

from controller.sandbox import JiraSandbox
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.jira_site import ADMIN_TOKEN, REPO_FIELD, REPO_OPTIONS, USER_TOKEN, jira_api
from tests.support.ui import UiSession, sign_in
from tests.support.waiting import eventually

LINEAR_STEPS: list[dict[str, str]] = [
    {"teamKey": "WEB", "ticketingProvider": "linear", "linearTeamKey": "WEB"},
    {"owner": "acme", "repo": "web", "defaultBranch": "main"},
    {"executionMode": "github-actions"},
    {"providerName": "anthropic"},
    {"maxInProgressAiIssues": "2", "maxTurns": "40", "maxJobMinutes": "60", "planningEnabled": "false"},
    {"secretName1": "NPM_TOKEN", "secretValue1": "npm-very-secret-value"},
]
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


async def submit(ui: UiSession, form: dict[str, str]) -> str:
    answer = await ui.api.client.post("/admin/projects/new", data=form, headers=ui.headers())
    assert answer.status == 200, await answer.text()
    return await answer.text()


def carried(page: str) -> dict[str, str]:
    """What the step's page carries on: its hidden inputs (the csrf one aside)."""
    return {name: value for name, value in HIDDEN.findall(page) if name != "csrf"}


async def walk(ui: UiSession, steps: list[dict[str, str]]) -> str:
    page = await ui.page("/admin/projects/new")
    for number, fields in enumerate(steps, start=1):
        page = await submit(ui, {**carried(page), "step": str(number), "action": "next", **fields})
        assert f"step {number + 1} of 8" in page, page[:2000]
    return page


async def test_a_linear_project_is_created_through_the_eight_steps_with_its_secret(api: Api) -> None:
    ui = await sign_in(api)

    review = await walk(ui, LINEAR_STEPS)
    assert "npm-very-secret-value" not in review, "a secret's value is never sent back"
    assert "NPM_TOKEN" in review
    created = await submit(ui, {**carried(review), "step": "7", "action": "create"})

    assert "Project WEB is created" in created
    assert 'id="projects-table" hx-swap-oob="true"' in created, "the table is swapped in: no reload"
    assert 'id="project-WEB"' in created
    headers = await api.login()

    async def exists() -> bool:
        listed = (await (await api.client.get("/api/mappings", headers=headers)).json())["mappings"]
        return any(item["teamKey"] == "WEB" for item in listed)

    await eventually(exists)
    listed = (await (await api.client.get("/api/mappings", headers=headers)).json())["mappings"]
    [web] = [item for item in listed if item["teamKey"] == "WEB"]
    assert web["spec"]["capacity"] == {"maxInProgressAiIssues": 2, "maxTurns": 40, "maxJobMinutes": 60}
    assert web["spec"]["planning"]["enabled"] is False
    secrets: dict[str, Any] = await (await api.client.get("/api/mappings/WEB/secrets", headers=headers)).json()
    assert "NPM_TOKEN" in str(secrets)
    assert "npm-very-secret-value" not in str(secrets)


async def test_each_steps_errors_are_said_beside_their_fields(api: Api) -> None:
    ui = await sign_in(api)
    start = await ui.page("/admin/projects/new")

    bad_key = await submit(ui, {**carried(start), "step": "1", "action": "next", "teamKey": "not a key"})
    assert "step 1 of 8" in bad_key
    assert 'id="f-teamKey"' in bad_key
    assert re.search(r'id="f-teamKey"[^>]*aria-invalid="true"', bad_key.replace("\n", " "))
    assert 'id="e-teamKey"' in bad_key

    jira = await submit(
        ui, {**carried(start), "step": "1", "action": "next", "teamKey": "PAY", "ticketingProvider": "jira"}
    )
    assert 'id="e-jql"' in jira, "Jira needs its JQL and repository field: the API server's rule, beside the field"

    at_provider = await walk(ui, LINEAR_STEPS[:3])
    bedrock = await submit(ui, {**carried(at_provider), "step": "4", "action": "next", "providerName": "bedrock"})
    assert "step 4 of 8" in bedrock
    assert 'id="e-awsRegion"' in bedrock, "Bedrock without a region is refused beside the region"


async def test_bedrock_cannot_run_on_fly_machines(api: Api) -> None:
    ui = await sign_in(api)
    fly = [LINEAR_STEPS[0], LINEAR_STEPS[1], {"executionMode": "fly-machines"}]
    at_provider = await walk(ui, fly)

    refused = await submit(
        ui, {**carried(at_provider), "step": "4", "action": "next", "providerName": "bedrock", "awsRegion": "eu-west-1"}
    )

    assert "step 4 of 8" in refused
    assert "cannot use runner.executionMode fly-machines" in refused


async def test_back_keeps_what_was_typed(api: Api) -> None:
    ui = await sign_in(api)
    second = await walk(ui, LINEAR_STEPS[:1])

    back = await submit(ui, {**carried(second), "step": "2", "action": "back", "owner": "acme"})

    assert "step 1 of 8" in back
    assert 'value="WEB"' in back


JIRA_START = {"step": "1", "teamKey": "PAY", "ticketingProvider": "jira", "jql": "project = PAY"}
SELECT = re.compile(r'<select id="f-(\w+)"')


async def jira_ui(start_api: ApiFactory, stack: AsyncExitStack, site: JiraSandbox, token: str) -> UiSession:
    return await sign_in(await jira_api(start_api, stack, site, token))


async def test_choosing_jira_asks_for_jiras_settings_and_no_longer_for_linears(api: Api) -> None:
    ui = await sign_in(api)
    start = await ui.page("/admin/projects/new")
    assert 'id="f-linearTeamKey"' in start
    assert 'id="f-jql"' not in start

    jira = await submit(ui, {**carried(start), "step": "1", "action": "refresh", "ticketingProvider": "jira"})

    assert "step 1 of 8" in jira
    assert 'id="f-jql"' in jira
    assert 'id="f-linearTeamKey"' not in jira
    assert 'class="error"' not in jira, "a refresh checks nothing"
    assert 'id="f-repoField" name="repoField" type="text"' in jira, "without Jira configured the field is typed"


async def test_the_repository_field_and_value_are_picked_from_what_jira_lists(
    start_api: ApiFactory, jira_site: JiraSandbox
) -> None:
    async with AsyncExitStack() as stack:
        ui = await jira_ui(start_api, stack, jira_site, ADMIN_TOKEN)
        start = await ui.page("/admin/projects/new")
        fields = await submit(ui, {**carried(start), **JIRA_START, "action": "refresh"})
        assert SELECT.findall(fields) == ["ticketingProvider", "repoField"]
        repo = re.search(r'<option value="(customfield_\d+)">Repo \(customfield_\d+\)</option>', fields)
        assert repo is not None, fields
        assert 'hx-post="/admin/projects/new" hx-trigger="change"' in fields, "choosing a field lists its values"

        values = await submit(ui, {**carried(fields), **JIRA_START, "action": "refresh", "repoField": repo[1]})
        assert SELECT.findall(values) == ["ticketingProvider", "repoField", "repoFieldValue"]
        assert re.findall(r'<option value="([\w-]+)">\1</option>', values) == list(REPO_OPTIONS)

        chosen = {**JIRA_START, "action": "next", "repoField": repo[1], "repoFieldValue": "ledger"}
        second = await submit(ui, {**carried(values), **chosen})
        assert "step 2 of 8" in second, second[:2000]
        assert carried(second)["repoFieldValue"] == "ledger"


async def test_a_field_jira_does_not_have_is_refused_beside_the_field(
    start_api: ApiFactory, jira_site: JiraSandbox
) -> None:
    async with AsyncExitStack() as stack:
        ui = await jira_ui(start_api, stack, jira_site, ADMIN_TOKEN)
        start = await ui.page("/admin/projects/new")
        typo = {**JIRA_START, "action": "next", "repoField": "customfield_99999", "repoFieldValue": "ledger"}

        refused = await submit(ui, {**carried(start), **typo})

        assert "step 1 of 8" in refused
        assert "Jira has no field customfield_99999" in refused
        assert re.search(r'id="e-repoField"', refused)


async def test_without_jira_administrator_rights_the_value_is_typed_and_the_page_says_why(
    start_api: ApiFactory, jira_site: JiraSandbox
) -> None:
    async with AsyncExitStack() as stack:
        ui = await jira_ui(start_api, stack, jira_site, USER_TOKEN)
        start = await ui.page("/admin/projects/new")
        page = await submit(ui, {**carried(start), **JIRA_START, "action": "refresh", "repoField": REPO_FIELD})

        assert SELECT.findall(page) == ["ticketingProvider", "repoField"]
        assert 'id="f-repoFieldValue" name="repoFieldValue" type="text"' in page
        assert "Jira lists a field&#39;s options to its administrators only" in page


async def test_when_jira_cannot_be_reached_the_field_is_typed_and_the_page_says_why(
    start_api: ApiFactory, jira_site: JiraSandbox
) -> None:
    async with AsyncExitStack() as stack:
        ui = await jira_ui(start_api, stack, jira_site, "a-token-jira-does-not-know")
        start = await ui.page("/admin/projects/new")

        page = await submit(ui, {**carried(start), **JIRA_START, "action": "refresh"})

        assert 'id="f-repoField" name="repoField" type="text"' in page
        assert "Jira could not list its fields" in page
