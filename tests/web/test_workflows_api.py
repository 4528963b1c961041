"""Workflow sync, template status and the models panel on the real API, against the GitHub sandbox.

Mappings are applied through `POST /api/mappings` to the real API server; a sync reads and writes
the target repositories through the real `GitHubClient`, as the App installed on `acme`. The two
listings answer from the repository checks in the store, which the operator's refresher (run here
over the API's own cache of the mappings) and each sync write; they never call GitHub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.github import GitHubClient
from controller.operator.reviews.workflow_templates import TemplateStatusRefresher
from controller.operator.tickets.mappings import MappingDirectory
from controller.resources import ProjectMappingSpec, mapping_name_for
from controller.sandbox.github import GitHubSandbox
from controller.workflows import (
    COMMENT_TRIGGER_PATH,
    NOT_CHECKED_YET,
    PLANNING_PROMPT_PATH,
    RUNNER_WORKFLOW_PATH,
    SYNC_BRANCH,
    SYNCED_PATHS,
    TEMPLATE_VERSION,
    WORKFLOW_PROMPT_PATH,
    WorkflowSync,
    render_templates,
)
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

APP_ID: Final = 515151
OWNER: Final = "acme"
SYNC: Final = "/api/mappings/{}/sync-workflows"
STATUS: Final = "/api/admin/template-status"
MODELS: Final = "/api/models"


def mapping_body(team_key: str = "ENG", repo: str = "web", **changes: Any) -> dict[str, Any]:
    return {
        "teamKey": team_key,
        "ticketing": {"provider": "linear"},
        "source": {"owner": OWNER, "repo": repo, "defaultBranch": "main"},
    } | changes


@pytest.fixture
async def github_sandbox(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[GitHubSandbox]:
    """acme/web, acme/api and acme/docs, the App installed on web and api only; a second owner without Workflows."""
    sandbox = GitHubSandbox(start_runs=False)
    sandbox.add_app(APP_ID, rsa_key.public_key())
    for name in ("web", "api", "docs"):
        sandbox.add_repo(OWNER, name, files={"README.md": f"# {name}\n"})
    sandbox.add_repo("globex", "site")
    sandbox.install_app(APP_ID, OWNER, repos=["web", "api"])
    sandbox.install_app(
        APP_ID, "globex", permissions={"contents": "write", "pull_requests": "write", "metadata": "read"}
    )
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def github(github_sandbox: GitHubSandbox, rsa_key_pem: str) -> AsyncIterator[GitHubClient]:
    assert github_sandbox.url is not None
    async with GitHubClient(APP_ID, rsa_key_pem, base_url=github_sandbox.url) as client:
        yield client


@pytest.fixture
async def api(start_api: ApiFactory, github: GitHubClient) -> Api:
    return await start_api(github=github)


@pytest.fixture
def leader(api: Api, github: GitHubClient) -> TemplateStatusRefresher:
    """The operator leader's template check, over the API's cache of the mappings and the same store."""
    context = api.context
    image = context.settings.session_image
    return TemplateStatusRefresher(
        context.kube,
        context.namespace,
        context.mappings,
        MappingDirectory(context.mappings),
        context.store,
        WorkflowSync(github, session_image=image, clock=context.clock),
        context.clock,
        TEMPLATE_VERSION,
        session_image=image,
    )


async def apply(api: Api, headers: dict[str, str], body: dict[str, Any]) -> ProjectMappingSpec:
    """Apply through the API and wait until the API's cache holds this version."""
    response = await api.client.post("/api/mappings", json=body, headers=headers)
    assert response.status in (200, 201), await response.text()
    applied = await response.json()
    name, version = mapping_name_for(body["teamKey"]), applied["resourceVersion"]

    def cached() -> bool:
        item = api.context.mappings.get(name)
        return item is not None and item["metadata"]["resourceVersion"] == version

    await eventually(cached)
    return ProjectMappingSpec.model_validate(applied["spec"])


async def post_sync(api: Api, headers: dict[str, str], team_key: str = "ENG", status: int = 200) -> dict[str, Any]:
    response = await api.client.post(SYNC.format(team_key), headers=headers)
    body: dict[str, Any] = await response.json()
    assert response.status == status, body
    return body


async def template_status(api: Api, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = await api.client.get(STATUS, headers=headers)
    body = await response.json()
    assert response.status == 200, body
    return {row["teamKey"]: row for row in body["repos"]}


def stamp(moment: datetime) -> str:
    """A time as the API writes it."""
    return moment.isoformat().replace("+00:00", "Z")


def rendered(api: Api, spec: ProjectMappingSpec) -> dict[str, str]:
    return render_templates(spec, session_image=api.context.settings.session_image)


def open_pulls(sandbox: GitHubSandbox, repo: str = "web") -> list[int]:
    return [number for number, pull in sandbox.repo(OWNER, repo).pulls.items() if pull.state == "open"]


def branch_sha(sandbox: GitHubSandbox, branch: str, repo: str = "web") -> str:
    head = sandbox.repo(OWNER, repo).branch_head(branch)
    assert head is not None
    return head.sha


async def test_sync_opens_one_pull_request_that_makes_the_templates_current(
    api: Api, github_sandbox: GitHubSandbox, leader: TemplateStatusRefresher
) -> None:
    headers = await api.login()
    spec = await apply(api, headers, mapping_body())
    assert await leader.refresh_all() == 1
    before = (await template_status(api, headers))["ENG"]
    assert (before["state"], before["error"]) == ("missing", None)
    assert before["files"] == dict.fromkeys(SYNCED_PATHS, "missing")

    opened = await post_sync(api, headers)
    assert opened["outcome"] == "opened"
    assert opened["created"] is True
    assert opened["branch"] == SYNC_BRANCH
    assert opened["changedFiles"] == list(SYNCED_PATHS)
    assert opened["pullRequestUrl"].endswith(f"/pull/{opened['pullRequestNumber']}")
    assert open_pulls(github_sandbox) == [opened["pullRequestNumber"]]
    for path, text in rendered(api, spec).items():
        assert github_sandbox.file_text(OWNER, "web", path, ref=SYNC_BRANCH) == text
    assert (await template_status(api, headers))["ENG"]["state"] == "missing"  # nothing merged yet

    head = branch_sha(github_sandbox, SYNC_BRANCH)
    again = await post_sync(api, headers)
    assert (again["outcome"], again["created"], again["pullRequestNumber"]) == (
        "updated",
        False,
        opened["pullRequestNumber"],
    )
    assert open_pulls(github_sandbox) == [opened["pullRequestNumber"]]
    assert branch_sha(github_sandbox, SYNC_BRANCH) == head  # nothing to commit the second time

    github_sandbox.merge_pull_request(OWNER, "web", opened["pullRequestNumber"])
    assert (await template_status(api, headers))["ENG"]["state"] == "missing", "until the next check"
    await leader.refresh_all()
    after = (await template_status(api, headers))["ENG"]
    assert after["state"] == "current"
    assert set(after["files"].values()) == {"current"}
    current = await post_sync(api, headers)
    assert (current["outcome"], current["pullRequestNumber"], current["changedFiles"]) == ("current", None, [])
    assert open_pulls(github_sandbox) == []

    audit = [entry.action for entry in await api.context.store.recent_audit(10)]
    assert audit.count("mapping.sync-workflows") == 3


async def test_a_changed_workflow_on_the_default_branch_is_stale_and_synced_back(
    api: Api, github_sandbox: GitHubSandbox, leader: TemplateStatusRefresher
) -> None:
    headers = await api.login()
    spec = await apply(api, headers, mapping_body())
    first = await post_sync(api, headers)
    github_sandbox.merge_pull_request(OWNER, "web", first["pullRequestNumber"])
    edited = github_sandbox.file_text(OWNER, "web", RUNNER_WORKFLOW_PATH)
    assert edited is not None
    github_sandbox.commit_files(OWNER, "web", "main", {RUNNER_WORKFLOW_PATH: edited.replace("ubuntu-latest", "self")})
    await leader.refresh_all()

    stale = (await template_status(api, headers))["ENG"]
    assert stale["state"] == "stale"
    assert stale["files"] == {path: "stale" if path == RUNNER_WORKFLOW_PATH else "current" for path in SYNCED_PATHS}

    resynced = await post_sync(api, headers)
    assert (resynced["outcome"], resynced["created"], resynced["changedFiles"]) == (
        "opened",
        True,
        [RUNNER_WORKFLOW_PATH],
    )
    assert resynced["pullRequestNumber"] != first["pullRequestNumber"]
    text = github_sandbox.file_text(OWNER, "web", RUNNER_WORKFLOW_PATH, ref=SYNC_BRANCH)
    assert text == rendered(api, spec)[RUNNER_WORKFLOW_PATH]
    main, branch = (github_sandbox.repo(OWNER, "web").branch_head(ref) for ref in ("main", SYNC_BRANCH))
    assert main is not None
    assert branch is not None
    assert branch.parents == (main.sha,)  # the old branch was moved onto main, then one commit


async def test_a_teams_edited_prompt_is_kept_and_an_open_pull_request_moves_forward(
    api: Api, github_sandbox: GitHubSandbox, leader: TemplateStatusRefresher
) -> None:
    headers = await api.login()
    await apply(api, headers, mapping_body())
    first = await post_sync(api, headers)
    github_sandbox.merge_pull_request(OWNER, "web", first["pullRequestNumber"])
    prompt = github_sandbox.file_text(OWNER, "web", WORKFLOW_PROMPT_PATH)
    assert prompt is not None
    own_prompt = prompt.replace("claude-sonnet-4-5", "claude-opus-4-1") + "\nAlways write the test first.\n"
    github_sandbox.commit_files(OWNER, "web", "main", {WORKFLOW_PROMPT_PATH: own_prompt})
    await leader.refresh_all()
    assert (await template_status(api, headers))["ENG"]["state"] == "current"

    spec = await apply(api, headers, mapping_body(capacity={"maxJobMinutes": 30}))
    status = (await template_status(api, headers))["ENG"]  # judged against the new rendering, not read again
    assert status["files"][RUNNER_WORKFLOW_PATH] == "stale"
    assert status["files"][WORKFLOW_PROMPT_PATH] == "current"
    opened = await post_sync(api, headers)
    assert opened["changedFiles"] == [RUNNER_WORKFLOW_PATH]
    assert github_sandbox.file_text(OWNER, "web", WORKFLOW_PROMPT_PATH, ref=SYNC_BRANCH) == own_prompt
    head = branch_sha(github_sandbox, SYNC_BRANCH)

    spec = await apply(api, headers, mapping_body(capacity={"maxJobMinutes": 45}))
    updated = await post_sync(api, headers)
    assert (updated["outcome"], updated["pullRequestNumber"]) == ("updated", opened["pullRequestNumber"])
    assert open_pulls(github_sandbox) == [opened["pullRequestNumber"]]
    new_head = branch_sha(github_sandbox, SYNC_BRANCH)
    assert github_sandbox.repo(OWNER, "web").is_ancestor(head, new_head)  # forward, never reset under the PR
    text = github_sandbox.file_text(OWNER, "web", RUNNER_WORKFLOW_PATH, ref=SYNC_BRANCH)
    assert text == rendered(api, spec)[RUNNER_WORKFLOW_PATH]
    assert "timeout-minutes: 45" in (text or "")
    github_sandbox.merge_pull_request(OWNER, "web", opened["pullRequestNumber"])
    await leader.refresh_all()
    assert (await template_status(api, headers))["ENG"]["state"] == "current"
    assert github_sandbox.file_text(OWNER, "web", WORKFLOW_PROMPT_PATH) == own_prompt


async def test_github_failures_are_502_for_a_sync_and_a_row_of_the_status(
    api: Api, github_sandbox: GitHubSandbox, leader: TemplateStatusRefresher
) -> None:
    headers = await api.login()
    await apply(api, headers, mapping_body())
    await apply(api, headers, mapping_body("DOCS", "docs"))
    await apply(
        api, headers, {**mapping_body("SITE"), "source": {"owner": "globex", "repo": "site", "defaultBranch": "main"}}
    )

    not_installed = await post_sync(api, headers, "DOCS", status=502)
    assert not_installed["error"]["code"] == "github_error"
    assert "not installed on acme/docs" in not_installed["error"]["message"]
    no_workflows_permission = await post_sync(api, headers, "SITE", status=502)
    assert "workflows" in no_workflows_permission["error"]["message"]
    await leader.refresh_all()

    rows = await template_status(api, headers)
    assert (rows["ENG"]["state"], rows["ENG"]["error"]) == ("missing", None)
    assert rows["DOCS"]["state"] == "unknown"
    assert rows["DOCS"]["files"] == {}
    assert "not installed on acme/docs" in rows["DOCS"]["error"]
    assert rows["DOCS"]["checkedAt"] == rows["ENG"]["checkedAt"] == stamp(api.context.clock())
    response = await api.client.get(STATUS, headers=headers)
    assert (await response.json())["counts"] == {"current": 0, "stale": 0, "missing": 2, "unknown": 1}


async def test_unknown_mappings_and_missing_default_branches(api: Api) -> None:
    headers = await api.login()
    assert (await post_sync(api, headers, "NOPE", status=404))["error"]["code"] == "not_found"
    assert (await api.client.post(SYNC.format("lower-case"), headers=headers)).status == 404
    await apply(api, headers, {**mapping_body(), "source": {"owner": OWNER, "repo": "web", "defaultBranch": "develop"}})
    refused = await post_sync(api, headers, status=422)
    assert refused["error"]["code"] == "mapping_not_syncable"
    assert "acme/web has no branch 'develop'" in refused["error"]["message"]
    row = (await template_status(api, headers))["ENG"]  # the refused sync read the repository: no wait
    assert row["state"] == "unknown"
    assert "acme/web has no branch 'develop'" in row["error"]
    assert row["checkedAt"] is not None


async def test_without_the_github_app_sync_is_503_and_the_listings_say_why(start_api: ApiFactory) -> None:
    api = await start_api()
    headers = await api.login()
    await apply(api, headers, mapping_body())
    refused = await post_sync(api, headers, status=503)
    assert refused["error"]["code"] == "github_not_configured"
    assert "GITHUB_APP_ID" in refused["error"]["message"]
    status = (await template_status(api, headers))["ENG"]
    assert (status["state"], status["files"], status["checkedAt"]) == ("unknown", {}, None)
    assert "GITHUB_APP_ID" in status["error"]
    response = await api.client.get(MODELS, headers=headers)
    assert response.status == 200
    [row] = (await response.json())["rows"]
    assert row["implementationModel"] is None
    assert "GITHUB_APP_ID" in row["implementationModelReason"]


async def test_the_models_panel_counts_providers_and_reads_model_ids_from_the_prompts(
    api: Api, github_sandbox: GitHubSandbox, leader: TemplateStatusRefresher
) -> None:
    headers = await api.login()
    await apply(api, headers, mapping_body())
    await apply(api, headers, mapping_body("PAY", "api", provider={"name": "bedrock", "awsRegion": "us-east-1"}))
    await apply(
        api,
        headers,
        mapping_body("ML", "api", provider={"name": "bedrock", "awsRegion": "eu-west-1"}, planning={"enabled": False}),
    )
    await apply(api, headers, mapping_body("OPS", "api", provider={"name": "bedrock", "awsRegion": "us-east-1"}))
    await apply(api, headers, mapping_body("DOCS", "docs"))
    synced = await post_sync(api, headers, "PAY")
    github_sandbox.merge_pull_request(OWNER, "api", synced["pullRequestNumber"])
    github_sandbox.commit_files(OWNER, "web", "main", {WORKFLOW_PROMPT_PATH: "---\nmodel: [broken\n---\n"})
    await leader.refresh_all()

    response = await api.client.get(MODELS, headers=headers)
    body = await response.json()
    assert response.status == 200, body
    assert body["kpis"] == {"projects": 5, "anthropic": 2, "bedrock": 3, "bedrockRegions": 2}
    rows = {row["teamKey"]: row for row in body["rows"]}
    assert list(rows) == ["DOCS", "ENG", "ML", "OPS", "PAY"]
    profile = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert rows["PAY"] == {
        "teamKey": "PAY",
        "repo": "acme/api",
        "provider": "bedrock",
        "bedrockRegion": "us-east-1",
        "regionBadge": None,
        "planningEnabled": True,
        "runnerMode": "github-actions",
        "configuredRunnerMode": "github-actions",
        "implementationModel": profile,
        "implementationModelReason": None,
        "planningModel": profile,
        "planningModelReason": None,
        "checkedAt": stamp(api.context.clock()),
    }
    assert (rows["ML"]["bedrockRegion"], rows["ML"]["planningEnabled"]) == ("eu-west-1", False)
    assert rows["ML"]["implementationModel"] == profile  # the same repository, synced for PAY
    eng = rows["ENG"]
    assert (eng["provider"], eng["bedrockRegion"], eng["regionBadge"]) == ("anthropic", None, None)
    assert eng["implementationModel"] is None
    assert "acme/web:WORKFLOW.md: the front matter is not valid YAML" in eng["implementationModelReason"]
    assert eng["planningModel"] is None
    assert "acme/web:PLANNING.md is not on the default branch" in eng["planningModelReason"]
    docs = rows["DOCS"]
    assert (docs["implementationModel"], docs["planningModel"]) == (None, None)
    assert "not installed on acme/docs" in docs["implementationModelReason"]
    assert docs["planningModelReason"] == docs["implementationModelReason"]


async def test_the_synced_runner_workflow_can_be_dispatched_with_the_backends_inputs(
    api: Api, github_sandbox: GitHubSandbox, github: GitHubClient
) -> None:
    headers = await api.login()
    await apply(api, headers, mapping_body())
    synced = await post_sync(api, headers)
    github_sandbox.merge_pull_request(OWNER, "web", synced["pullRequestNumber"])
    inputs = {
        "dispatch": "eng-1-implementation-1",
        "namespace": "ai",
        "issue_identifier": "ENG-1",
        "kind": "implementation",
        "callback_base_url": "https://ai.example.com",
        "environment": '{"AI_IMPLEMENT_PROVIDER":"anthropic"}',
    }
    await github.dispatch_workflow(OWNER, "web", "ai-implement.yml", ref="main", inputs=inputs)
    [run] = await github.list_workflow_runs(OWNER, "web", "ai-implement.yml")
    assert run.display_title == "eng-1-implementation-1 in ai"
    trigger = github_sandbox.file_text(OWNER, "web", COMMENT_TRIGGER_PATH)
    assert trigger is not None
    assert "/trigger/gap-fill" in trigger
    assert github_sandbox.file_text(OWNER, "web", PLANNING_PROMPT_PATH) is not None


@pytest.mark.parametrize(("method", "path"), [("POST", SYNC.format("ENG")), ("GET", STATUS), ("GET", MODELS)])
async def test_every_endpoint_needs_the_admin_token(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path)
    assert response.status == 401
    forged = await api.client.request(method, path, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status == 401


async def test_the_listings_answer_from_the_stored_checks_without_calling_github(
    api: Api, github_sandbox: GitHubSandbox, leader: TemplateStatusRefresher, clock: FakeClock
) -> None:
    headers = await api.login()
    await apply(api, headers, mapping_body())
    await apply(api, headers, mapping_body("OPS", "web"))
    await apply(api, headers, mapping_body("PAY", "api"))
    synced = await post_sync(api, headers)
    github_sandbox.merge_pull_request(OWNER, "web", synced["pullRequestNumber"])
    await leader.refresh_all()
    checked_at = clock()
    clock.advance(timedelta(minutes=4))
    github_sandbox.commit_files(OWNER, "web", "main", {WORKFLOW_PROMPT_PATH: "---\nmodel: claude-opus-4-1\n---\n"})
    calls = len(github_sandbox.requests)

    status = await template_status(api, headers)
    models = {row["teamKey"]: row for row in (await (await api.client.get(MODELS, headers=headers)).json())["rows"]}

    assert len(github_sandbox.requests) == calls, "no GitHub call in the request path"
    assert {key: row["checkedAt"] for key, row in status.items()} == dict.fromkeys(
        ["ENG", "OPS", "PAY"], stamp(checked_at)
    )
    assert (status["ENG"]["state"], status["OPS"]["state"]) == ("current", "stale"), "each against its own rendering"
    assert models["ENG"]["implementationModel"] == "claude-sonnet-4-5", "as last checked, 4 minutes ago"
    assert models["ENG"]["checkedAt"] == stamp(checked_at)


async def test_a_repository_not_checked_yet_says_so(api: Api, github_sandbox: GitHubSandbox) -> None:
    headers = await api.login()
    await apply(api, headers, mapping_body())
    calls = len(github_sandbox.requests)

    row = (await template_status(api, headers))["ENG"]
    [model] = (await (await api.client.get(MODELS, headers=headers)).json())["rows"]

    assert len(github_sandbox.requests) == calls
    assert (row["state"], row["files"], row["checkedAt"], row["error"]) == ("unknown", {}, None, NOT_CHECKED_YET)
    assert (model["implementationModel"], model["planningModel"], model["checkedAt"]) == (None, None, None)
    assert model["implementationModelReason"] == model["planningModelReason"] == NOT_CHECKED_YET


async def test_an_api_that_cannot_reach_github_still_lists_what_the_leader_checked(
    api: Api, start_api: ApiFactory, leader: TemplateStatusRefresher, rsa_key_pem: str
) -> None:
    headers = await api.login()
    for team_key, repo in [("ENG", "web"), ("PAY", "api"), ("DOCS", "docs")]:
        await apply(api, headers, mapping_body(team_key, repo))
    await leader.refresh_all()
    async with GitHubClient(APP_ID, rsa_key_pem, base_url="http://127.0.0.1:9") as unreachable:
        replica = await start_api(github=unreachable)
        replica_headers = await replica.login()
        rows = await template_status(replica, replica_headers)
        response = await replica.client.get(MODELS, headers=replica_headers)
        models = {row["teamKey"]: row for row in (await response.json())["rows"]}

    assert {key: row["state"] for key, row in rows.items()} == {"DOCS": "unknown", "ENG": "missing", "PAY": "missing"}
    assert "not installed on acme/docs" in rows["DOCS"]["error"], "GitHub's answer to the leader, not a timeout"
    assert "acme/web:WORKFLOW.md is not on the default branch" in models["ENG"]["implementationModelReason"]
