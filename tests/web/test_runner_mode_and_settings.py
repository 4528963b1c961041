"""/api/runner-mode and /api/settings: stored values, environment locks, restart flags."""

from __future__ import annotations

import pytest

from controller import constants
from tests.support.api_fixtures import Api, ApiFactory


async def test_runner_mode_defaults_to_default(api: Api) -> None:
    body = await (await api.client.get("/api/runner-mode", headers=await api.login())).json()
    assert body["mode"] == "default"
    assert body["source"] == "default"
    assert body["envLocked"] is False
    assert body["acceptedModes"] == ["default", "gha"]


FLY = {"FLY_SESSIONS_TOKEN": "fly-token", "FLY_SESSIONS_APP": "acme-sessions"}


async def test_a_stored_mode_applies_at_once(start_api: ApiFactory) -> None:
    api = await start_api(env=FLY)
    headers = await api.login()
    response = await api.client.post("/api/runner-mode", json={"mode": "fly"}, headers=headers)
    assert response.status == 200
    body = await response.json()
    assert (body["mode"], body["source"], body["applied"]) == ("fly", "database", True)
    assert body["storedBy"].startswith("admin@")
    again = await (await api.client.get("/api/runner-mode", headers=headers)).json()
    assert again["mode"] == "fly"


async def test_runner_mode_variable_locks_the_mode_but_the_value_is_kept(start_api: ApiFactory) -> None:
    api = await start_api(env={"RUNNER_MODE": "gha", **FLY})
    headers = await api.login()
    body = await (await api.client.post("/api/runner-mode", json={"mode": "shadow"}, headers=headers)).json()
    assert (body["mode"], body["source"], body["envLocked"], body["applied"]) == ("gha", "environment", True, False)
    assert body["storedMode"] == "shadow"
    assert "RUNNER_MODE=gha" in body["message"]
    unlocked = await start_api(env=FLY)
    view = await (await unlocked.client.get("/api/runner-mode", headers=await unlocked.login())).json()
    assert (view["mode"], view["source"]) == ("shadow", "database")


async def test_fly_modes_need_the_fly_token(api: Api) -> None:
    refused = await api.client.post("/api/runner-mode", json={"mode": "shadow"}, headers=await api.login())
    assert refused.status == 422
    assert "FLY_SESSIONS_TOKEN" in (await refused.json())["error"]["message"]


async def test_a_stored_mode_stops_applying_when_its_requirement_goes(start_api: ApiFactory) -> None:
    before = await start_api(env={"LOCAL_RUNNER_IMAGE": "ai-implement-runner:dev"})
    await before.client.post("/api/runner-mode", json={"mode": "local"}, headers=await before.login())
    after = await start_api()
    view = await (await after.client.get("/api/runner-mode", headers=await after.login())).json()
    assert (view["mode"], view["source"], view["storedMode"]) == ("default", "default", "local")


async def test_local_mode_needs_a_local_runner_image(start_api: ApiFactory) -> None:
    without = await start_api()
    refused = await without.client.post("/api/runner-mode", json={"mode": "local"}, headers=await without.login())
    assert refused.status == 422
    assert "LOCAL_RUNNER_IMAGE" in (await refused.json())["error"]["message"]
    with_image = await start_api(env={"LOCAL_RUNNER_IMAGE": "ai-implement-runner:dev"})
    accepted = await with_image.client.post(
        "/api/runner-mode", json={"mode": "local"}, headers=await with_image.login()
    )
    assert accepted.status == 200


@pytest.mark.parametrize("body", [{"mode": "turbo"}, {}, {"mode": "fly", "extra": 1}, {"mode": None}])
async def test_bad_runner_modes_are_422(api: Api, body: dict[str, object]) -> None:
    response = await api.client.post("/api/runner-mode", json=body, headers=await api.login())
    assert response.status == 422


async def test_settings_show_defaults_when_nothing_is_stored(api: Api) -> None:
    body = await (await api.client.get("/api/settings", headers=await api.login())).json()
    region = body["flySessionsRegion"]
    assert (region["runtime"], region["source"], region["restartRequired"]) == ("iad", "default", False)
    assert body["flySessionsApp"]["runtime"] is None


async def test_a_stored_setting_waits_for_a_restart(api: Api) -> None:
    headers = await api.login()
    response = await api.client.post(
        "/api/settings", json={"flySessionsApp": "acme-sessions", "flySessionsRegion": "ams"}, headers=headers
    )
    assert response.status == 200
    body = await response.json()
    assert body["flySessionsRegion"]["stored"] == "ams"
    assert body["flySessionsRegion"]["runtime"] == "iad"
    assert body["flySessionsRegion"]["restartRequired"] is True
    assert body["flySessionsApp"]["restartRequired"] is True


async def test_after_a_restart_the_stored_setting_is_in_use(start_api: ApiFactory) -> None:
    first = await start_api()
    await first.client.post("/api/settings", json={"flySessionsRegion": "ams"}, headers=await first.login())
    restarted = await start_api(stored_at_start={constants.SETTING_FLY_SESSIONS_REGION: "ams"})
    body = await (await restarted.client.get("/api/settings", headers=await restarted.login())).json()
    region = body["flySessionsRegion"]
    assert (region["runtime"], region["source"], region["restartRequired"]) == ("ams", "database", False)


async def test_an_environment_variable_wins_and_is_flagged(start_api: ApiFactory) -> None:
    api = await start_api(env={"FLY_SESSIONS_REGION": "lhr"})
    headers = await api.login()
    body = await (await api.client.post("/api/settings", json={"flySessionsRegion": "ams"}, headers=headers)).json()
    region = body["flySessionsRegion"]
    assert (region["runtime"], region["environment"], region["stored"]) == ("lhr", "lhr", "ams")
    assert (region["envOverride"], region["restartRequired"], region["source"]) == (True, False, "environment")


@pytest.mark.parametrize(
    "body",
    [{}, {"flySessionsRegion": "Amsterdam"}, {"flySessionsApp": "Bad_Name"}, {"flySessionsRegion": 3}, {"x": 1}],
)
async def test_bad_settings_are_422(api: Api, body: dict[str, object]) -> None:
    response = await api.client.post("/api/settings", json=body, headers=await api.login())
    assert response.status == 422


async def test_a_stored_fly_app_is_enough_for_the_fly_modes(start_api: ApiFactory) -> None:
    api = await start_api(env={"FLY_SESSIONS_TOKEN": "fly-token"})
    headers = await api.login()
    refused = await api.client.post("/api/runner-mode", json={"mode": "fly"}, headers=headers)
    assert refused.status == 422
    assert "Fly app" in (await refused.json())["error"]["message"]
    await api.client.post("/api/settings", json={"flySessionsApp": "acme-sessions"}, headers=headers)
    assert (await api.client.post("/api/runner-mode", json={"mode": "fly"}, headers=headers)).status == 200
