"""The Projects panel through the app: rows, the cap and pause edited in place, sync, delete with confirmation."""

from __future__ import annotations

from typing import Any

from tests.support.api_fixtures import Api
from tests.support.ui import UiSession, sign_in
from tests.support.waiting import eventually
from tests.web.test_mappings import LINEAR_MAPPING


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
