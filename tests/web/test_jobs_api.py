"""GET /api/log and GET /api/jobs/:jobId/steps on the real API server and both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.kube import DISPATCHES, KubeClient
from controller.store import Store
from tests.support.api_fixtures import Api
from tests.support.clock import FakeClock
from tests.web.test_runner_callbacks import NAME, create_dispatch


async def log(store: Store, clock: FakeClock, name: str, kind: str, **fields: object) -> None:
    await store.append_dispatch_log(
        now=clock.now,
        issue_id="uuid-1",
        identifier="ENG-1",
        title="Add a button",
        team_key="ENG",
        repo="acme/web",
        kind=kind,  # type: ignore[arg-type]
        iteration=1,
        runner_mode="github-actions",
        session_image="ghcr.io/acme/session:1",
        status="succeeded",
        dispatch_name=name,
        **fields,  # type: ignore[arg-type]
    )
    clock.advance(timedelta(minutes=1))


async def test_the_log_groups_a_tickets_dispatches_into_one_job(api: Api, store: Store, clock: FakeClock) -> None:
    await log(store, clock, "eng-1-planning-1", "planning")
    await log(store, clock, "eng-1-implementation-1", "implementation", pull_request_url="https://pr/7")
    headers = await api.login()

    response = await api.client.get("/api/log", headers=headers)

    assert response.status == 200
    body = await response.json()
    assert body["entries"] == 2
    [job] = body["jobs"]
    assert (job["identifier"], job["repo"], job["teamKey"], job["runnerMode"]) == (
        "ENG-1",
        "acme/web",
        "ENG",
        "github-actions",
    )
    assert job["statuses"] == {"planning": "succeeded", "implementation": "succeeded"}
    assert job["pullRequestUrl"] == "https://pr/7"
    assert [entry["jobId"] for entry in job["dispatches"]] == ["eng-1-planning-1", "eng-1-implementation-1"]


async def test_steps_come_from_the_live_dispatch_then_from_the_log(
    api: Api, store: Store, kube: KubeClient, namespace: str, clock: FakeClock
) -> None:
    await create_dispatch(kube, namespace, clock, steps=[{"name": "plan", "status": "running"}])
    headers = await api.login()

    live = await (await api.client.get(f"/api/jobs/{NAME}/steps", headers=headers)).json()
    await log(store, clock, NAME, "implementation")
    await store.update_dispatch_status(NAME, "failed", steps=[{"name": "plan", "status": "failed", "message": "x"}])
    await kube.delete(DISPATCHES, namespace, NAME)
    kept = await (await api.client.get(f"/api/jobs/{NAME}/steps", headers=headers)).json()
    missing = await api.client.get("/api/jobs/nothing-here/steps", headers=headers)

    assert (live["source"], live["status"]) == ("live", "running")
    assert [(step["name"], step["status"]) for step in live["steps"]] == [("plan", "running")]
    assert (kept["source"], kept["status"]) == ("log", "failed")
    assert kept["steps"][0]["message"] == "x"
    assert missing.status == 404


async def test_the_log_and_steps_need_the_admin_token(api: Api) -> None:
    assert (await api.client.get("/api/log")).status == 401
    assert (await api.client.get(f"/api/jobs/{NAME}/steps")).status == 401


@pytest.mark.parametrize("job_id", ["..%2F..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fdefault%2Fsecrets", "a..b%2F", "ENG-1"])
async def test_a_job_id_that_is_no_dispatch_name_is_404_without_a_call_to_the_api_server(api: Api, job_id: str) -> None:
    response = await api.client.get(f"/api/jobs/{job_id}/steps", headers=await api.login())

    assert response.status == 404
    assert "a job id is a Dispatch name" in (await response.json())["error"]["message"]
