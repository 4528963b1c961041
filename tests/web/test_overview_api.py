"""GET /api/overview on the real API server: what the Overview panel shows, as JSON."""

from __future__ import annotations

from datetime import timedelta

from controller.kube import PROJECT_MAPPINGS, KubeClient
from controller.store import Store
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.clock import FakeClock
from tests.support.ui import sign_in
from tests.support.waiting import eventually
from tests.web.test_mappings import LINEAR_MAPPING


async def test_the_overview_counts_failures_capacity_and_the_hourly_trend(
    api: Api, kube: KubeClient, namespace: str, store: Store, clock: FakeClock
) -> None:
    headers = await api.login()
    mapping = LINEAR_MAPPING | {"capacity": {"maxInProgressAiIssues": 2}}
    assert (await api.client.post("/api/mappings", json=mapping, headers=headers)).status == 201
    status = {"status": {"inProgress": 2, "workflowTemplate": "stale"}}
    await kube.merge_patch(PROJECT_MAPPINGS, namespace, "eng", status, subresource="status")
    for minutes, outcome in ((5, "failed"), (70, "succeeded"), (60 * 30, "failed")):
        await store.append_dispatch_log(
            now=clock.now - timedelta(minutes=minutes),
            issue_id=f"id-{minutes}",
            identifier=f"ENG-{minutes}",
            title="t",
            team_key="ENG",
            repo="acme/webapp",
            kind="implementation",
            iteration=1,
            runner_mode="local",
            session_image="img",
            status=outcome,
            dispatch_name=f"eng-{minutes}-implementation-1",
        )

    async def at_cap() -> bool:
        body = await (await api.client.get("/api/overview", headers=headers)).json()
        return bool(body["projectsAtCap"])

    await eventually(at_cap)
    body = await (await api.client.get("/api/overview", headers=headers)).json()

    assert [job["identifier"] for job in body["failedJobs"]] == ["ENG-5"], "30 h ago is not in the last 24"
    assert body["capacity"]["inProgress"] == 2
    assert body["capacity"]["utilisation"] == 1.0
    assert body["projectsAtCap"] == ["ENG"]
    assert body["staleTemplates"] == [{"teamKey": "ENG", "repository": "acme/webapp", "state": "stale"}]
    assert len(body["trend"]) == 24
    assert sum(bucket["dispatches"] for bucket in body["trend"]) == 2
    assert sum(bucket["failed"] for bucket in body["trend"]) == 1
    assert body["running"] == []
    assert {check["id"] for check in body["checks"]} >= {"kubernetes", "runner-callback"}


async def test_the_overview_is_an_admin_endpoint(api: Api) -> None:
    assert (await api.client.get("/api/overview")).status == 401


async def test_the_runners_panel_shows_each_projects_configured_and_effective_mode(start_api: ApiFactory) -> None:
    api = await start_api({"RUNNER_MODE": "local", "LOCAL_RUNNER_IMAGE": "runner:1"})
    headers = await api.login()
    assert (await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=headers)).status == 201

    async def listed() -> bool:
        body = await (await api.client.get("/api/runners", headers=headers)).json()
        return bool(body["projects"])

    await eventually(listed)
    body = await (await api.client.get("/api/runners", headers=headers)).json()

    assert body["runnerMode"] == {"mode": "local", "source": "environment", "envLocked": True}
    assert body["projects"] == [
        {
            "teamKey": "ENG",
            "configured": "github-actions",
            "note": None,
            "effective": "local",
            "inProgress": 0,
            "cap": 1,
        }
    ]
    assert (body["liveSessions"], body["liveFlySessions"], body["topSessions"], body["reapedRecently"]) == (0, 0, [], 0)
    ui = await sign_in(api)
    page = await ui.page("/admin/runners")
    assert "env-var lock" in page
    assert "env override wins" in page
