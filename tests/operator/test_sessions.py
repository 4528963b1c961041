"""The Sessions panel end to end: the census lists what the backends run, and destroy-and-reset through the
API destroys the machine, cancels its run, frees its ticket and lets the next poll dispatch it again."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import pytest

from controller.docker.naming import DISPATCH_LABEL
from controller.kube import DISPATCHES, RUNNER_SESSIONS
from controller.kube.errors import NotFoundError
from controller.operator.runtime import OperatorRuntime
from controller.sandbox import LinearSandbox
from controller.sandbox.base import Fault
from controller.sandbox.runner import Ending, RunScript
from tests.operator.conftest import apply_mapping, cached, dispatch_names
from tests.operator.run_fixtures import FLY_APP, OWNER, RunLoop
from tests.support.waiting import eventually

FIRST = "eng-1-implementation-1"
WORKING = "AI-Working"


async def a_hanging_run(loop: RunLoop, linear: LinearSandbox) -> OperatorRuntime:
    """ENG-1 runs on a Fly machine that keeps working without reporting an end."""
    loop.add_repo("eng")
    await apply_mapping(
        loop.kube, loop.namespace, "ENG", planning={"enabled": False}, runner={"executionMode": "fly-machines"}
    )
    linear.add_issue("ENG", "Add dark mode", labels=["AI-Implement"])
    loop.runner.scripts["ENG-1"] = RunScript(ending=Ending.HANG, fail_at="test")
    runtime = await loop.operator()
    await cached(runtime, "eng")
    await loop.lead(runtime)

    async def running() -> bool:
        try:
            return await loop.phase(FIRST) == "Running"
        except NotFoundError:
            return False

    await eventually(running, within=30)
    return runtime


async def an_operator(loop: RunLoop, **mapping: Any) -> OperatorRuntime:
    """An operator runtime (not leading) that sees the mapping ENG → acme/eng."""
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG", **mapping)
    runtime = await loop.operator()
    await cached(runtime, "eng")
    return runtime


async def requested_and_carried_out(loop: RunLoop, runtime: OperatorRuntime, machine_id: str) -> Any:
    """DELETE through the API while the operator's resetter works, as the leader would, every 50 ms."""
    headers = await loop.api.login()
    asked = asyncio.create_task(loop.api.client.delete(f"/api/sessions/{quote(machine_id, safe='')}", headers=headers))
    while not asked.done():
        await runtime.resetter.process_pending()
        await asyncio.sleep(0.05)
    return await asked


async def census(runtime: OperatorRuntime) -> None:
    """What the leader does every 30 s, now."""
    await runtime.census.take(runtime.reaper.backends.configured())


async def sessions(loop: RunLoop, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    response = await loop.api.client.get(f"/api/sessions{query}", headers=headers)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_the_panel_lists_live_sessions_with_their_ticket_and_repo(loop: RunLoop, linear: LinearSandbox) -> None:
    runtime = await a_hanging_run(loop, linear)
    stranger = loop.fly.add_machine(FLY_APP, name="someone-elses")
    stopped = loop.fly.add_machine(FLY_APP, name="stopped", state="stopped")
    await census(runtime)
    headers = await loop.api.login()

    listed = await sessions(loop, headers, "?backend=fly-machines")

    rows = {row["machineId"]: row for row in listed["sessions"]}
    [machine] = [m for m in loop.fly.machines_of(FLY_APP) if m.id not in (stranger.id, stopped.id)]
    assert set(rows) == {machine.id, stranger.id}, "a stopped machine is not a live session"
    ours = rows[machine.id]
    assert ours["state"] == "started"
    assert ours["dispatch"] == FIRST
    assert ours["issue"]["identifier"] == "ENG-1"
    assert ours["issue"]["url"]
    assert ours["repo"] == f"{OWNER}/eng"
    assert ours["uptimeSeconds"] >= 0
    assert ours["resetPending"] is False
    assert rows[stranger.id]["issue"] is None
    assert [entry["backend"] for entry in listed["census"]] == ["fly-machines"]
    assert listed["census"][0]["error"] is None

    wrong = await loop.api.client.get("/api/sessions?backend=kubernetes", headers=headers)
    assert wrong.status == 422
    assert "kubernetes" in (await wrong.json())["error"]["message"]


async def test_destroying_a_session_resets_its_ticket_and_the_next_poll_dispatches_it_again(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    runtime = await a_hanging_run(loop, linear)
    await census(runtime)
    headers = await loop.api.login()
    [row] = (await sessions(loop, headers))["sessions"]
    assert WORKING in linear.labels_of("ENG-1")
    issue_id = linear.issue("ENG-1").id
    assert await runtime.store.is_within_dedup_window(issue_id, runtime.clock())

    response = await loop.api.client.delete(f"/api/sessions/{row['machineId']}", headers=headers)

    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["state"] == "reset"
    assert answer["details"] | {"requestedBy": "x"} == {
        "backend": "fly-machines",
        "resourceId": row["machineId"],
        "requestedBy": "x",
        "dispatch": FIRST,
        "destroyed": True,
        "ticket": "ENG-1",
        "markerRemoved": True,
        "dedupCleared": True,
    }
    assert loop.fly.machine(row["machineId"]).state == "destroyed"
    assert WORKING not in linear.labels_of("ENG-1")
    assert not await runtime.store.is_within_dedup_window(issue_id, runtime.clock())
    status = (await loop.kube.get(DISPATCHES, loop.namespace, FIRST))["status"]
    assert status["phase"] == "Cancelled"
    assert status["error"]["reason"] == "SessionDestroyed"
    assert status["closedAt"]
    with pytest.raises(NotFoundError):
        await loop.kube.get(RUNNER_SESSIONS, loop.namespace, FIRST)
    assert any("cancelled" in comment.body for comment in linear.comments_on("ENG-1"))
    [audit] = [entry for entry in await runtime.store.recent_audit(10) if entry.action == "session.destroy"]
    assert audit.target == row["machineId"]
    again = await loop.api.client.get(f"/api/sessions/resets/{answer['requestId']}", headers=headers)
    assert (await again.json())["state"] == "reset"

    (poller,) = [p for p in runtime.pollers() if p.source.provider == "linear"]
    await poller.poll_once()

    assert "eng-1-implementation-2" in await dispatch_names(loop.kube, loop.namespace)

    gone = await loop.api.client.delete(f"/api/sessions/{row['machineId']}", headers=headers)
    assert gone.status == 404
    assert "already destroyed or never existed" in (await gone.json())["error"]["message"]


async def test_an_orphan_machine_of_a_ticket_is_destroyed_and_its_ticket_freed(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    runtime = await an_operator(loop, planning={"enabled": False})
    ticket = await a_ticket_in_the_dedup_window(loop, linear, runtime)
    orphan = loop.fly.add_machine(FLY_APP, name="orphan", metadata={"issue": "ENG-1", "team": "ENG"})
    await census(runtime)
    await loop.lead(runtime)
    headers = await loop.api.login()

    response = await loop.api.client.delete(f"/api/sessions/{orphan.id}", headers=headers)

    assert response.status == 200, await response.text()
    details = (await response.json())["details"]
    assert (details["dispatch"], details["markerRemoved"], details["dedupCleared"]) == (None, True, True)
    assert loop.fly.machine(orphan.id).state == "destroyed"
    assert WORKING not in linear.labels_of("ENG-1")
    assert not await runtime.store.is_within_dedup_window(ticket.id, runtime.clock())


async def test_an_already_destroyed_machine_answers_409_and_changes_nothing(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    runtime = await an_operator(loop)
    ticket = await a_ticket_in_the_dedup_window(loop, linear, runtime)
    machine = loop.fly.add_machine(FLY_APP, name="ended", metadata={"issue": "ENG-1", "team": "ENG"})
    await census(runtime)
    loop.fly.exit_machine(machine.id)  # auto-destroyed after the census saw it, before the next census

    response = await requested_and_carried_out(loop, runtime, machine.id)

    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "already_destroyed"
    assert "nothing else was changed" in error["message"]
    assert WORKING in linear.labels_of("ENG-1")
    assert await runtime.store.is_within_dedup_window(ticket.id, runtime.clock())


async def test_unknown_machines_and_requests_answer_404(loop: RunLoop) -> None:
    headers = await loop.api.login()

    for machine_id in ("no-such-machine", "acme/eng/123"):
        response = await loop.api.client.delete(f"/api/sessions/{quote(machine_id, safe='')}", headers=headers)
        assert response.status == 404
        assert repr(machine_id) in (await response.json())["error"]["message"]
    assert (await loop.api.client.get("/api/sessions/resets/999", headers=headers)).status == 404
    assert (await loop.api.client.get("/api/sessions/resets/abc", headers=headers)).status == 404
    assert await loop.api.context.store.pending_session_resets() == []


async def test_without_an_operator_the_answer_is_202_and_the_panel_shows_it_pending(loop: RunLoop) -> None:
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG")
    runtime = await loop.operator()
    machine = loop.fly.add_machine(FLY_APP, name="stuck")
    await census(runtime)
    loop.api.context.session_reset_wait = 0.3
    headers = await loop.api.login()

    response = await loop.api.client.delete(f"/api/sessions/{machine.id}", headers=headers)

    assert response.status == 202
    answer = await response.json()
    assert answer["state"] == "pending"
    assert f"/api/sessions/resets/{answer['requestId']}" in answer["message"]
    [row] = (await sessions(loop, headers))["sessions"]
    assert row["resetPending"] is True
    assert loop.fly.machine(machine.id).state == "started"

    await runtime.resetter.process_pending()

    assert loop.fly.machine(machine.id).state == "destroyed"
    done = await loop.api.client.get(f"/api/sessions/resets/{answer['requestId']}", headers=headers)
    assert (await done.json())["state"] == "reset"


async def a_ticket_in_the_dedup_window(loop: RunLoop, linear: LinearSandbox, runtime: OperatorRuntime) -> Any:
    linear.add_label(WORKING)
    ticket = linear.add_issue("ENG", "Left behind", labels=["AI-Implement", WORKING])
    await runtime.store.record_dedup(
        ticket.id,
        identifier=ticket.identifier,
        title="Left behind",
        team_key="ENG",
        provider="linear",
        now=runtime.clock(),
    )
    return ticket


async def test_a_workflow_run_and_a_container_are_destroyed_by_their_ids(loop: RunLoop, linear: LinearSandbox) -> None:
    runtime = await an_operator(loop)
    run = loop.github.add_workflow_run(OWNER, "eng", display_title="eng-gone-implementation-1")
    container = loop.docker.add_container("c-left", labels={DISPATCH_LABEL: "eng-gone-implementation-2"})
    await census(runtime)

    for resource_id in (f"{OWNER}/eng/{run.id}", container.id):
        response = await requested_and_carried_out(loop, runtime, resource_id)
        assert response.status == 200, await response.text()
        assert (await response.json())["details"]["destroyed"] is True

    assert (loop.github.run(run.id).status, loop.github.run(run.id).conclusion) == ("completed", "cancelled")
    with pytest.raises(KeyError):
        loop.docker.container(container.id)


async def test_a_run_that_ended_after_the_census_is_already_destroyed_and_nothing_changes(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    runtime = await an_operator(loop)
    ticket = await a_ticket_in_the_dedup_window(loop, linear, runtime)
    run = loop.github.add_workflow_run(OWNER, "eng", display_title="eng-gone-implementation-1")
    await census(runtime)
    loop.github.complete_run(run.id, "success")

    response = await requested_and_carried_out(loop, runtime, f"{OWNER}/eng/{run.id}")

    assert response.status == 409
    assert "has already ended (stopped)" in (await response.json())["error"]["message"]
    assert loop.github.run(run.id).conclusion == "success"
    assert WORKING in linear.labels_of(ticket.identifier)
    assert await runtime.store.is_within_dedup_window(ticket.id, runtime.clock())


async def test_the_machine_left_by_a_succeeded_run_goes_but_its_ticket_stays(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    loop.add_repo("eng")
    await apply_mapping(
        loop.kube, loop.namespace, "ENG", planning={"enabled": False}, runner={"executionMode": "fly-machines"}
    )
    linear.add_issue("ENG", "Add dark mode", labels=["AI-Implement"])
    runtime = await loop.operator()
    await cached(runtime, "eng")
    await loop.lead(runtime)
    status = await loop.until_closed(FIRST)
    assert status["phase"] == "Succeeded"
    left = loop.fly.add_machine(FLY_APP, name="left", metadata={"dispatch": FIRST, "namespace": loop.namespace})
    await census(runtime)
    headers = await loop.api.login()

    response = await loop.api.client.delete(f"/api/sessions/{left.id}", headers=headers)

    assert response.status == 200, await response.text()
    answer = await response.json()
    assert "pull request carries the work on" in answer["message"]
    assert (answer["details"]["markerRemoved"], answer["details"]["dedupCleared"]) == (False, False)
    assert loop.fly.machine(left.id).state == "destroyed"
    assert (await loop.kube.get(DISPATCHES, loop.namespace, FIRST))["status"]["phase"] == "Succeeded"
    assert WORKING in linear.labels_of("ENG-1")


async def test_a_ticketing_outage_after_the_destroy_delays_the_reset_but_does_not_lose_it(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    runtime = await an_operator(loop)
    ticket = await a_ticket_in_the_dedup_window(loop, linear, runtime)
    orphan = loop.fly.add_machine(FLY_APP, name="orphan", metadata={"issue": ticket.identifier, "team": "ENG"})
    await census(runtime)
    loop.api.context.session_reset_wait = 0.2
    headers = await loop.api.login()
    answer = await (await loop.api.client.delete(f"/api/sessions/{orphan.id}", headers=headers)).json()
    linear.inject(Fault.unavailable(503), times=None)

    assert await runtime.resetter.process_pending() == 0

    assert loop.fly.machine(orphan.id).state == "destroyed"
    linear.clear_faults()
    assert await runtime.resetter.process_pending() == 1
    done = await runtime.store.session_reset(answer["requestId"])
    assert done is not None
    assert done.state == "reset"
    assert (done.details["markerRemoved"], done.details["dedupCleared"]) == (True, True)
    assert WORKING not in linear.labels_of(ticket.identifier)
