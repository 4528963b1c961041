"""The reaper on the real API server with the Fly, GitHub and Docker sandboxes: each rule fires on exactly
the resources it should, dry runs only record, the alert fires once, and a backend or ticketing
system that fails leaves the rest swept and no live run touched.

Each test seeds a world (machines, workflow runs and containers in the sandboxes; Dispatches with
their status written as the reconciler would; tickets in Linear), moves the operator's clock three
hours on, and calls one sweep. No reconciler runs, so the world stays exactly as seeded.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from controller import constants
from controller.clock import kube_timestamp
from controller.docker.naming import DISPATCH_LABEL, NAMESPACE_LABEL
from controller.kube import DISPATCHES, KubeClient
from controller.operator.runtime import OperatorRuntime
from controller.sandbox import LinearSandbox
from controller.sandbox.base import Fault
from tests.operator.conftest import apply_mapping, cached
from tests.operator.run_fixtures import FLY_APP, OWNER, RunLoop
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

LATER = timedelta(hours=3)


@dataclass
class World:
    """What was seeded, by the name each test refers to it with."""

    machines: dict[str, str] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)
    containers: dict[str, str] = field(default_factory=dict)
    tickets: dict[str, Any] = field(default_factory=dict)

    def fly_state(self, loop: RunLoop, name: str) -> str:
        return loop.fly.machine(self.machines[name]).state

    def run_status(self, loop: RunLoop, name: str) -> tuple[str, str | None]:
        run = loop.github.run(self.runs[name])
        return run.status, run.conclusion

    def container_running(self, loop: RunLoop, name: str) -> bool:
        """False once it is stopped or removed (destroying removes it)."""
        try:
            return bool(loop.docker.container(self.containers[name]).running)
        except KeyError:
            return False


async def seed_dispatch(
    loop: RunLoop, name: str, ticket: Any, *, mode: str = "fly-machines", **status: Any
) -> dict[str, Any]:
    body = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.DISPATCH_KIND,
        "metadata": {"name": name, "namespace": loop.namespace},
        "spec": {
            "mapping": "ENG",
            "issue": {"provider": "linear", "id": ticket.id, "identifier": ticket.identifier},
            "kind": "implementation",
            "iteration": 1,
            "runnerMode": mode,
        },
    }
    await loop.kube.create(DISPATCHES, loop.namespace, body)
    if status:
        await loop.kube.merge_patch(DISPATCHES, loop.namespace, name, {"status": status}, subresource="status")
    return body


def fly_labels(loop: RunLoop, dispatch: str | None = None, issue: str | None = None, **extra: str) -> dict[str, str]:
    labels = {"namespace": loop.namespace, "team": "ENG", **extra}
    if dispatch:
        labels["dispatch"] = dispatch
    if issue:
        labels["issue"] = issue
    return labels


async def seed_world(loop: RunLoop, linear: LinearSandbox, clock: FakeClock) -> World:
    """Every case of every rule, on all three backends, ages measured at `clock.now + LATER`."""
    world = World()
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG", capacity={"maxJobMinutes": 60})
    for key, state in (
        ("live", "Canceled"),
        ("stale", "In Progress"),
        ("recent", "In Progress"),
        ("done", "Done"),
        ("over", "In Progress"),
        ("gha-live", "In Progress"),
        ("docker-stale", "In Progress"),
        ("docker-live", "In Progress"),
        ("starting", "In Progress"),
    ):
        world.tickets[key] = linear.add_issue("ENG", f"ticket {key}", state=state, labels=["AI-Implement"])
    t = world.tickets
    later = clock.now + LATER

    def at(delta: timedelta) -> str:
        return kube_timestamp(later + delta)

    running = {"phase": "Running", "startedAt": at(-LATER)}
    await seed_dispatch(loop, "eng-live", t["live"], **running, deadlineAt=at(timedelta(minutes=30)))
    await seed_dispatch(loop, "eng-starting", t["starting"])
    await seed_dispatch(loop, "eng-stale", t["stale"], phase="Failed", finishedAt=at(-timedelta(minutes=30)))
    await seed_dispatch(loop, "eng-recent", t["recent"], phase="Failed", finishedAt=at(-timedelta(minutes=2)))
    await seed_dispatch(loop, "eng-over", t["over"], **running, deadlineAt=at(-timedelta(hours=2)))
    fly = loop.fly
    seeded = {
        "live": fly_labels(loop, "eng-live", t["live"].identifier),
        "starting": fly_labels(loop, "eng-starting", t["starting"].identifier),
        "orphan": {},
        "foreign": {"namespace": "someone-else", "dispatch": "eng-live"},
        "other-tenant": {"tenant": "globex"},
        "stale": fly_labels(loop, "eng-stale", t["stale"].identifier),
        "done": fly_labels(loop, None, t["done"].identifier),
        "over": fly_labels(loop, "eng-over", t["over"].identifier),
    }
    for name, metadata in seeded.items():
        world.machines[name] = fly.add_machine(FLY_APP, name=f"m-{name}", metadata=metadata).id
    young_at = time.time() + LATER.total_seconds() - 60
    world.machines["young"] = fly.add_machine(FLY_APP, name="m-young", created_at=young_at).id
    half_an_hour_old = time.time() + LATER.total_seconds() - 1800
    recent = fly_labels(loop, "eng-recent", t["recent"].identifier)
    world.machines["recent"] = fly.add_machine(
        FLY_APP, name="m-recent", metadata=recent, created_at=half_an_hour_old
    ).id

    gha_live = loop.github.add_workflow_run(OWNER, "eng", display_title="eng-gha-live")
    world.runs["gha-live"] = gha_live.id
    world.runs["gha-orphan"] = loop.github.add_workflow_run(OWNER, "eng", display_title="eng-nobody-1").id
    world.runs["gha-foreign"] = loop.github.add_workflow_run(
        OWNER, "eng", display_title="eng-nobody-2 in someone-else"
    ).id
    gha_running = {"runner": {"backend": "github-actions", "id": f"{OWNER}/eng/{gha_live.id}"}}
    await seed_dispatch(
        loop,
        "eng-gha-live",
        t["gha-live"],
        mode="github-actions",
        **running,
        **gha_running,
        deadlineAt=at(timedelta(minutes=5)),
    )

    await seed_dispatch(
        loop, "eng-docker-stale", t["docker-stale"], mode="local", phase="Succeeded", finishedAt=at(-timedelta(hours=1))
    )
    await seed_dispatch(
        loop, "eng-docker-live", t["docker-live"], mode="local", **running, deadlineAt=at(timedelta(minutes=1))
    )
    for name, dispatch in (("docker-stale", "eng-docker-stale"), ("docker-live", "eng-docker-live")):
        labels = {DISPATCH_LABEL: dispatch, NAMESPACE_LABEL: loop.namespace}
        world.containers[name] = loop.docker.add_container(f"c-{name}", labels=labels).id
    world.containers["docker-orphan"] = loop.docker.add_container(
        "c-docker-orphan", labels={DISPATCH_LABEL: "eng-gone-1"}
    ).id
    return world


async def operator_seeing(loop: RunLoop, *dispatches: str, **env: str) -> OperatorRuntime:
    runtime = await loop.operator(**env)
    await cached(runtime, "eng")
    await eventually(lambda: all(runtime.dispatches.get(name) is not None for name in dispatches))
    return runtime


SEEDED_DISPATCHES = (
    "eng-live",
    "eng-starting",
    "eng-stale",
    "eng-recent",
    "eng-over",
    "eng-gha-live",
    "eng-docker-stale",
    "eng-docker-live",
)
EXPECTED_RULES = {
    "stale": "stale-terminal-job",
    "orphan": "orphan",
    "done": "issue-terminal",
    "over": "max-age-exceeded",
    "gha-orphan": "orphan",
    "docker-stale": "stale-terminal-job",
    "docker-orphan": "orphan",
}
KEPT_MACHINES = ("live", "starting", "foreign", "other-tenant", "recent", "young")


def resource_ids(world: World) -> dict[str, str]:
    return {
        **world.machines,
        **{name: f"{OWNER}/eng/{run_id}" for name, run_id in world.runs.items()},
        **world.containers,
    }


def reaped(value: float | None) -> float:
    return value or 0.0


async def test_each_rule_fires_on_exactly_the_resources_it_should(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    world = await seed_world(loop, linear, operator_clock)
    runtime = await operator_seeing(loop, *SEEDED_DISPATCHES, CLIENT_SLUG="acme-corp")
    destroyed_before = reaped(
        REGISTRY.get_sample_value("ai_implement_reaper_actions_total", {"rule": "orphan", "outcome": "destroyed"})
    )
    sweeps_before = reaped(REGISTRY.get_sample_value("ai_implement_reaper_sweeps_total", {"outcome": "ok"}))
    operator_clock.advance(LATER)

    report = await runtime.reaper.sweep()

    ids = resource_ids(world)
    by_id = {action.resource_id: action for action in report.actions}
    sweeps = REGISTRY.get_sample_value("ai_implement_reaper_sweeps_total", {"outcome": "ok"})
    assert reaped(sweeps) - sweeps_before == 1
    assert REGISTRY.get_sample_value("ai_implement_reaper_last_sweep_timestamp_seconds") == pytest.approx(
        operator_clock.now.timestamp()
    )
    listed = REGISTRY.get_sample_value("ai_implement_live_sessions", {"backend": "fly-machines", "state": "started"})
    assert listed == len(world.machines), "the gauge counts what the sweep listed, before destroying"
    assert {name for name, resource in ids.items() if resource in by_id} == set(EXPECTED_RULES)
    for name, rule in EXPECTED_RULES.items():
        action = by_id[ids[name]]
        assert (action.rule, action.outcome, action.dry_run) == (rule, "destroyed", False), name
        assert action.tenant == "acme-corp"
    assert by_id[ids["done"]].issue_identifier == world.tickets["done"].identifier
    assert by_id[ids["orphan"]].age_seconds >= LATER.total_seconds() - 5
    for name in ("stale", "orphan", "done", "over"):
        assert world.fly_state(loop, name) == "destroyed", name
    for name in KEPT_MACHINES:
        assert world.fly_state(loop, name) == "started", name
    assert world.run_status(loop, "gha-orphan") == ("completed", "cancelled")
    assert world.run_status(loop, "gha-live") == ("in_progress", None)
    assert world.run_status(loop, "gha-foreign") == ("in_progress", None)
    assert not world.container_running(loop, "docker-stale")
    assert not world.container_running(loop, "docker-orphan")
    assert world.container_running(loop, "docker-live")
    assert report.backend_errors == {}
    after = REGISTRY.get_sample_value("ai_implement_reaper_actions_total", {"rule": "orphan", "outcome": "destroyed"})
    assert reaped(after) - destroyed_before == 3

    headers = await loop.api.login()
    summary = await (await loop.api.client.get("/api/reaper/summary", headers=headers)).json()
    assert summary["destroyed"] == {
        "total": 7,
        "machines": 6,
        "jobs": 1,
        "byRule": {"orphan": 3, "stale-terminal-job": 2, "max-age-exceeded": 1, "issue-terminal": 1},
    }
    assert summary["dryRun"] == 0
    assert summary["lastSweepAt"] is not None
    assert summary["lastSweepError"] is None
    recent = await (await loop.api.client.get("/api/reaper/recent?limit=3", headers=headers)).json()
    assert len(recent["actions"]) == 3
    assert {row["machineId"] for row in recent["actions"]} <= set(ids.values())

    second = await runtime.reaper.sweep()
    assert second.actions == [], "a second sweep finds nothing more to destroy"


async def test_a_dry_run_records_everything_and_destroys_nothing(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    world = await seed_world(loop, linear, operator_clock)
    runtime = await operator_seeing(loop, *SEEDED_DISPATCHES, REAPER_DRY_RUN="true")
    operator_clock.advance(LATER)

    report = await runtime.reaper.sweep()

    ids = resource_ids(world)
    assert {action.resource_id: action.rule for action in report.actions} == {
        ids[name]: rule for name, rule in EXPECTED_RULES.items()
    }
    assert all(action.dry_run and action.outcome == "dry-run" for action in report.actions)
    assert all(world.fly_state(loop, name) == "started" for name in world.machines)
    assert world.run_status(loop, "gha-orphan") == ("in_progress", None)
    assert all(world.container_running(loop, name) for name in world.containers)

    headers = await loop.api.login()
    summary = await (await loop.api.client.get("/api/reaper/summary", headers=headers)).json()
    assert summary["destroyed"]["total"] == 0
    assert summary["dryRun"] == 7
    assert summary["dryRunByRule"] == {"orphan": 3, "stale-terminal-job": 2, "max-age-exceeded": 1, "issue-terminal": 1}


async def test_the_alert_fires_once_when_destructions_pass_the_threshold(
    loop: RunLoop, operator_clock: FakeClock
) -> None:
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG")
    runtime = await operator_seeing(loop, REAPER_ALERT_THRESHOLD="2")
    for number in range(2):
        loop.fly.add_machine(FLY_APP, name=f"leftover-{number}")
    operator_clock.advance(LATER)

    await runtime.reaper.sweep()
    assert loop.chat.slack_messages == [], "two destructions are not above a threshold of two"

    loop.fly.add_machine(FLY_APP, name="leftover-2", created_at=time.time() - 3600)
    await runtime.reaper.sweep()
    loop.fly.add_machine(FLY_APP, name="leftover-3", created_at=time.time() - 3600)
    await runtime.reaper.sweep()

    assert len(loop.chat.slack_messages) == 1
    assert "Reaper alert: 3 machines destroyed in 24 h" in str(loop.chat.slack_messages[0])
    assert await runtime.store.last_reaper_alert_at() is not None


async def test_a_backend_that_fails_leaves_the_others_swept_and_no_wrong_resource_destroyed(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    world = await seed_world(loop, linear, operator_clock)
    runtime = await operator_seeing(
        loop,
        *SEEDED_DISPATCHES,
        FLY_API_BASE_URL="http://127.0.0.1:9",  # nothing listens: every Fly call fails
        LINEAR_API_URL="http://127.0.0.1:9/graphql",  # and no ticket can be read
    )
    operator_clock.advance(LATER)

    report = await runtime.reaper.sweep()

    ids = resource_ids(world)
    assert set(report.backend_errors) == {"fly-machines"}
    assert {action.resource_id: action.rule for action in report.actions} == {
        ids["gha-orphan"]: "orphan",
        ids["docker-stale"]: "stale-terminal-job",
        ids["docker-orphan"]: "orphan",
    }
    assert all(world.fly_state(loop, name) == "started" for name in world.machines)
    assert world.run_status(loop, "gha-live") == ("in_progress", None)
    assert world.container_running(loop, "docker-live")
    sweep = await runtime.store.last_reaper_sweep()
    assert sweep is not None
    assert "fly-machines could not be listed" in (sweep.error or "")
    census = {state.backend: state for state in await runtime.store.census_states()}
    assert census["fly-machines"].error
    assert census["fly-machines"].last_success_at is None
    assert census["local"].error is None


async def test_nothing_is_judged_when_the_owners_cannot_be_listed(loop: RunLoop, operator_clock: FakeClock) -> None:
    """The caches could be stale: the reaper asks the API server, and judges nothing when it cannot."""
    stack = AsyncExitStack()
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG")
    runtime = await operator_seeing(loop)
    machine = loop.fly.add_machine(FLY_APP, name="leftover")
    operator_clock.advance(LATER)
    unreachable = replace(runtime.kube.connection, server="https://127.0.0.1:9")
    runtime.census.kube = await stack.enter_async_context(KubeClient(unreachable))

    async with stack:
        report = await runtime.reaper.sweep()

    assert "could not be listed" in (report.error or "")
    assert report.actions == []
    assert loop.fly.machine(machine.id).state == "started"


@pytest.mark.parametrize("grace", ["10", "300"])
async def test_the_grace_period_is_configurable(loop: RunLoop, operator_clock: FakeClock, grace: str) -> None:
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG")
    runtime = await operator_seeing(loop, REAPER_GRACE_MINUTES=grace)
    machine = loop.fly.add_machine(FLY_APP, name="leftover")
    operator_clock.advance(LATER)

    await runtime.reaper.sweep()

    assert loop.fly.machine(machine.id).state == ("destroyed" if grace == "10" else "started")


async def test_a_destroy_that_fails_is_recorded_and_retried_while_the_rest_are_destroyed(
    loop: RunLoop, operator_clock: FakeClock
) -> None:
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG")
    runtime = await operator_seeing(loop)
    stubborn = loop.fly.add_machine(FLY_APP, name="stubborn")
    others = [loop.fly.add_machine(FLY_APP, name=f"leftover-{number}") for number in range(2)]
    loop.fly.inject(Fault.unavailable(400, method="DELETE", path=f"/v1/apps/{FLY_APP}/machines/{stubborn.id}"))
    operator_clock.advance(LATER)

    first = await runtime.reaper.sweep()

    outcomes = {action.resource_id: action.outcome for action in first.actions}
    assert outcomes == {stubborn.id: "failed", **{machine.id: "destroyed" for machine in others}}
    failed = next(action for action in first.actions if action.outcome == "failed")
    assert "destroying failed" in (failed.message or "")
    assert loop.fly.machine(stubborn.id).state == "started"

    second = await runtime.reaper.sweep()

    assert [(action.resource_id, action.outcome) for action in second.actions] == [(stubborn.id, "destroyed")]
    assert loop.fly.machine(stubborn.id).state == "destroyed"
    summary = await runtime.store.reaper_counts_since(operator_clock.now - timedelta(hours=24))
    assert (summary.by_outcome["destroyed"], summary.by_outcome["failed"]) == (3, 1)


async def test_a_backend_answering_errors_mid_sweep_is_skipped(loop: RunLoop, operator_clock: FakeClock) -> None:
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG")
    runtime = await operator_seeing(loop)
    machine = loop.fly.add_machine(FLY_APP, name="leftover")
    container = loop.docker.add_container("c-leftover", labels={DISPATCH_LABEL: "eng-gone-1"})
    loop.fly.inject(Fault.unavailable(503, method="GET", path=f"/v1/apps/{FLY_APP}/machines"), times=None)
    operator_clock.advance(LATER)

    report = await runtime.reaper.sweep()

    assert set(report.backend_errors) == {"fly-machines"}
    assert [action.resource_id for action in report.actions] == [container.id]
    assert loop.fly.machine(machine.id).state == "started"


async def test_a_dispatch_the_watch_cache_missed_still_protects_its_machine(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    """Owners come from the API server at each sweep, not from a watch that may have fallen behind."""
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG", capacity={"maxJobMinutes": 60})
    runtime = await operator_seeing(loop)
    await runtime.dispatches.stop()  # the watch falls behind from here on
    ticket = linear.add_issue("ENG", "Fresh", labels=["AI-Implement"])
    deadline = kube_timestamp(operator_clock.now + LATER + timedelta(minutes=30))
    await seed_dispatch(loop, "eng-unseen", ticket, phase="Running", deadlineAt=deadline)
    assert runtime.dispatches.get("eng-unseen") is None
    machine = loop.fly.add_machine(FLY_APP, name="m-unseen", metadata=fly_labels(loop, "eng-unseen"))
    operator_clock.advance(LATER)

    report = await runtime.reaper.sweep()

    assert report.actions == []
    assert loop.fly.machine(machine.id).state == "started"


async def test_a_shadow_run_is_left_to_finish_until_its_dispatchs_deadline(
    loop: RunLoop, linear: LinearSandbox, operator_clock: FakeClock
) -> None:
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG", capacity={"maxJobMinutes": 240})
    runtime = await operator_seeing(loop)
    ticket = linear.add_issue("ENG", "Shadowed", labels=["AI-Implement"])
    later = operator_clock.now + LATER
    shadow = loop.fly.add_machine(FLY_APP, name="m-shadow", metadata=fly_labels(loop, "eng-shadowed"))
    await seed_dispatch(
        loop,
        "eng-shadowed",
        ticket,
        mode="shadow",
        phase="Succeeded",
        finishedAt=kube_timestamp(later - timedelta(hours=1)),
        deadlineAt=kube_timestamp(later + timedelta(minutes=20)),
        shadow={"backend": "fly-machines", "id": shadow.id},
    )
    operator_clock.advance(LATER)

    assert (await runtime.reaper.sweep()).actions == []

    operator_clock.advance(timedelta(minutes=31))
    [action] = (await runtime.reaper.sweep()).actions
    assert (action.resource_id, action.rule) == (shadow.id, "stale-terminal-job")
