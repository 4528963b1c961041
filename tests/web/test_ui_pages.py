"""The admin UI's pages through the app: what each shows, what it escapes, what each action does."""

from __future__ import annotations

from datetime import timedelta

from markupsafe import escape

from controller.resources import ProjectMappingSpec
from controller.web.workflows import GITHUB_NOT_CONFIGURED
from controller.workflows import PLANNING_PROMPT_PATH, WORKFLOW_PROMPT_PATH, render_templates, repository_check
from tests.support.api_fixtures import Api
from tests.support.ui import sign_in
from tests.support.waiting import eventually


async def test_the_overview_page_and_its_live_part(api: Api) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/overview")

    assert "<h1>Overview</h1>" in page
    assert "Environment checks" in page
    assert 'hx-get="/admin/overview/live"' in page
    live = await ui.page("/admin/overview/live")
    assert live.lstrip().startswith('<div id="overview-live"'), "the live part alone, for htmx to swap"


async def test_an_action_without_the_csrf_token_or_from_another_site_is_refused(api: Api) -> None:
    ui = await sign_in(api)

    missing = await api.client.post("/admin/sign-out", headers={"Origin": ui.origin}, allow_redirects=False)
    foreign = await api.client.post(
        "/admin/sign-out", headers={**ui.headers(), "Origin": "https://evil.example"}, allow_redirects=False
    )
    accepted = await api.client.post("/admin/sign-out", headers=ui.headers(), allow_redirects=False)

    assert (missing.status, foreign.status, accepted.status) == (403, 403, 303)
    assert (await api.client.get("/admin/overview", allow_redirects=False)).status == 303, "signed out"


async def test_the_models_panel_says_why_a_model_id_is_missing(api: Api) -> None:
    ui = await sign_in(api)
    mapping = {
        "teamKey": "ENG",
        "ticketing": {"provider": "linear"},
        "source": {"owner": "acme", "repo": "webapp", "defaultBranch": "main"},
        "provider": {"name": "bedrock", "awsRegion": "eu-west-1"},
    }
    assert (await api.client.post("/api/mappings", json=mapping, headers=await api.login())).status == 201

    async def listed() -> bool:
        return "<code>acme/webapp</code>" in await ui.page("/admin/models")

    await eventually(listed)
    page = await ui.page("/admin/models")

    assert "<h1>Models &amp; providers</h1>" in page
    assert "eu-west-1" in page
    assert str(escape(GITHUB_NOT_CONFIGURED)) in page, "the reason a model id is missing, in the panel"

    checked_at = api.context.clock() - timedelta(minutes=3)
    rendered = render_templates(ProjectMappingSpec.model_validate(mapping))
    texts = {path: rendered[path] for path in (WORKFLOW_PROMPT_PATH, PLANNING_PROMPT_PATH)}
    await api.context.store.record_repository_check(repository_check(("acme", "webapp", "main"), texts, checked_at))
    checked = await ui.page("/admin/models")

    assert "<code>eu.anthropic.claude-sonnet-4-5-20250929-v1:0</code>" in checked, "as the operator's check read it"
    assert f'<time datetime="{checked_at.isoformat()}"' in checked
    assert "3 min ago" in checked
