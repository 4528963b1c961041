"""The Secrets panel through the app: set and delete global and team secrets; values never come back."""

from __future__ import annotations

from tests.support.api_fixtures import Api
from tests.support.ui import sign_in
from tests.support.waiting import eventually
from tests.web.test_mappings import LINEAR_MAPPING

VALUE = "s3cr3t-value-never-shown"


async def test_a_global_secret_is_set_listed_without_its_value_and_deleted(api: Api) -> None:
    ui = await sign_in(api)

    stored = await api.client.post(
        "/admin/secrets/global", data={"name": "NPM_TOKEN", "value": VALUE}, headers=ui.headers()
    )
    stored_text = await stored.text()
    page = await ui.page("/admin/secrets")

    assert "NPM_TOKEN is stored." in stored_text
    assert VALUE not in stored_text
    assert VALUE not in page
    assert "<code>NPM_TOKEN</code>" in page
    listed = await (await api.client.get("/api/global-secrets", headers=await api.login())).json()
    assert [entry["name"] for entry in listed["secrets"]] == ["NPM_TOKEN"]
    deleted = await api.client.post("/admin/secrets/global/NPM_TOKEN/delete", headers=ui.headers())
    assert "NPM_TOKEN is deleted." in await deleted.text()
    listed = await (await api.client.get("/api/global-secrets", headers=await api.login())).json()
    assert listed["secrets"] == []


async def test_a_refused_name_is_said_beside_the_field_and_the_value_is_not_echoed(api: Api) -> None:
    ui = await sign_in(api)

    refused = await api.client.post(
        "/admin/secrets/global", data={"name": "1bad", "value": VALUE}, headers=ui.headers()
    )

    text = await refused.text()
    assert 'aria-invalid="true"' in text
    assert 'role="alert"' in text
    assert VALUE not in text
    assert 'value="1bad"' in text, "the name stays for correcting it; the value does not"


async def test_a_team_secret_is_stored_under_the_teams_prefix(api: Api) -> None:
    ui = await sign_in(api)
    assert (await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=await api.login())).status == 201

    async def offered() -> bool:
        return '<option value="ENG">ENG</option>' in await ui.page("/admin/secrets")

    await eventually(offered)  # a team without secrets is offered in the chooser, not given a section
    assert 'id="secrets-ENG"' not in await ui.page("/admin/secrets")
    chosen = await ui.page("/admin/secrets?team=ENG")
    assert 'id="secrets-ENG"' in chosen
    assert "Set a secret of ENG" in chosen
    await api.client.post("/admin/secrets/ENG", data={"name": "DEPLOY_KEY", "value": VALUE}, headers=ui.headers())

    team = await (await api.client.get("/api/mappings/ENG/secrets", headers=await api.login())).json()
    assert [entry["name"] for entry in team["secrets"]] == ["DEPLOY_KEY"]
    page = await ui.page("/admin/secrets")
    assert VALUE not in page
    assert 'id="secrets-ENG"' in page, "a team with a secret has its section"
    assert "<code>DEPLOY_KEY</code>" in page
    assert "There is no project mapping NOPE" in await ui.page("/admin/secrets?team=NOPE")


async def test_settings_are_stored_with_their_flags_and_a_bad_value_is_said_beside_it(api: Api) -> None:
    ui = await sign_in(api)

    refused = await api.client.post("/admin/settings", data={"flySessionsRegion": "Frankfurt"}, headers=ui.headers())
    stored = await api.client.post("/admin/settings", data={"flySessionsApp": "acme-sessions"}, headers=ui.headers())

    refused_text = await refused.text()
    assert 'id="e-flySessionsRegion"' in refused_text
    assert "Stored." in await stored.text()
    settings = await (await api.client.get("/api/settings", headers=await api.login())).json()
    assert settings["flySessionsApp"]["stored"] == "acme-sessions"
    assert settings["flySessionsApp"]["restartRequired"] is True
    assert "restart needed" in await ui.page("/admin/settings")


async def test_the_audit_log_lists_admin_changes_with_who_made_them(api: Api) -> None:
    ui = await sign_in(api)
    await api.client.post("/admin/secrets/global", data={"name": "AUDITED", "value": VALUE}, headers=ui.headers())

    trail = await (await api.client.get("/api/audit", headers=await api.login())).json()
    page = await ui.page("/admin/audit")
    refused = await api.client.get("/api/audit?limit=0", headers=await api.login())

    [change] = [change for change in trail["changes"] if change["target"] == "AUDITED"]
    assert (change["action"], change["actor"].split("@")[0]) == ("secret.set", "admin-ui")
    assert VALUE not in str(trail)
    assert "<code>secret.set</code>" in page
    assert refused.status == 422
