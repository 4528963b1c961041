"""The Projects panel through the app: rows, the cap and pause edited in place, sync, delete with confirmation."""

from __future__ import annotations

import re
from typing import Any

from tests.support.api_fixtures import Api
from tests.support.ui import UiSession, sign_in
from tests.support.waiting import eventually
from tests.web.test_mappings import LINEAR_MAPPING

NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">')
PREVIOUS_LINK = re.compile(r'<a href="([^"]+)" rel="prev">')


async def a_project(api: Api) -> UiSession:
    ui = await sign_in(api)
    assert (await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=await api.login())).status == 201

    async def shown() -> bool:
        return 'id="project-ENG"' in await ui.page("/admin/projects")

    await eventually(shown)
    return ui


async def mapping(api: Api) -> dict[str, Any] | None:
    listed = (await (await api.client.get("/api/mappings", headers=await api.login())).json())["mappings"]
    return next((item for item in listed if item["teamKey"] == "ENG"), None)


async def test_the_cap_is_edited_in_place_and_a_bad_one_is_said_beside_the_field(api: Api) -> None:
    ui = await a_project(api)

    bad = await api.client.post("/admin/projects/ENG/capacity", data={"cap": "lots"}, headers=ui.headers())
    good = await api.client.post("/admin/projects/ENG/capacity", data={"cap": "4"}, headers=ui.headers())

    bad_row = await bad.text()
    assert bad.status == 200
    assert 'aria-invalid="true"' in bad_row
    assert "The cap is a whole number from 0 to 100." in bad_row
    assert "Saved." in await good.text()

    async def capped() -> bool:
        found = await mapping(api)
        return found is not None and found["spec"]["capacity"]["maxInProgressAiIssues"] == 4

    await eventually(capped)


async def test_pause_resume_and_delete_after_confirmation(api: Api) -> None:
    ui = await a_project(api)

    paused = await api.client.post("/admin/projects/ENG/paused", data={"paused": "true"}, headers=ui.headers())
    assert ">Resume<" in await paused.text()
    found = await mapping(api)
    assert found is not None
    assert found["spec"]["paused"] is True

    confirm = await ui.page("/admin/projects/ENG/delete")
    assert "Delete ENG and its team secrets?" in confirm
    assert await mapping(api) is not None, "asking is not deleting"
    deleted = await api.client.post("/admin/projects/ENG/delete", headers=ui.headers())
    assert "ENG was deleted" in await deleted.text()

    async def gone() -> bool:
        return await mapping(api) is None

    await eventually(gone)


async def test_a_sync_github_refuses_is_said_in_the_row(api: Api) -> None:
    ui = await a_project(api)

    answer = await api.client.post("/admin/projects/ENG/sync-workflows", headers=ui.headers())

    assert answer.status == 200
    assert "the GitHub App is not configured" in await answer.text()


async def test_actions_need_the_sessions_csrf_token(api: Api) -> None:
    ui = await a_project(api)

    refused = await api.client.post(
        "/admin/projects/ENG/paused", data={"paused": "true"}, headers={"Origin": ui.origin}
    )

    assert refused.status == 403
    found = await mapping(api)
    assert found is not None
    assert found["spec"]["paused"] is False


async def test_the_panel_shows_a_page_of_projects_with_links_to_the_next_and_previous(api: Api) -> None:
    ui = await sign_in(api)
    headers = await api.login()
    for team_key in ("OPS", "API", "WEB"):
        body = LINEAR_MAPPING | {"teamKey": team_key}
        assert (await api.client.post("/api/mappings", json=body, headers=headers)).status == 201
    await eventually(lambda: len(api.context.mappings.items()) == 3)

    first = await ui.page("/admin/projects?limit=2")
    following = NEXT_LINK.search(first)
    assert following is not None, first
    second = await ui.page(following.group(1).replace("&amp;", "&"))
    previous = PREVIOUS_LINK.search(second)
    assert previous is not None, second
    again = await ui.page(previous.group(1).replace("&amp;", "&"))

    assert ('id="project-API"' in first, 'id="project-OPS"' in first, 'id="project-WEB"' in first) == (
        True,
        True,
        False,
    )
    assert "2 of 3 projects" in first
    assert PREVIOUS_LINK.search(first) is None, "the first page has nothing before it"
    assert ('id="project-WEB"' in second, 'id="project-API"' in second) == (True, False)
    assert NEXT_LINK.search(second) is None, "the last page has nothing after it"
    assert "&amp;limit=2" in following.group(1), "the links keep the page size"
    assert ('id="project-API"' in again, 'id="project-OPS"' in again) == (True, True)


async def test_a_page_link_the_panel_did_not_make_shows_the_first_page(api: Api) -> None:
    ui = await a_project(api)

    page = await ui.page("/admin/projects?cursor=mangled")

    assert "That page link is not one this panel made" in page
    assert 'id="project-ENG"' in page


async def test_keep_it_puts_the_row_back_from_its_own_address(api: Api) -> None:
    ui = await a_project(api)
    confirm = await ui.page("/admin/projects/ENG/delete")
    assert 'hx-get="/admin/projects/ENG"' in confirm

    row = await ui.page("/admin/projects/ENG")

    assert row.lstrip().startswith('<tr id="project-ENG">')
    assert "Delete ENG and its team secrets?" not in row
    assert await ui.page("/admin/projects/NOPE", status=404)
