"""Errors met by kopf's handlers, classified once: a permanent one stops with a condition and an Event,
a temporary one comes back."""

from __future__ import annotations

import asyncio
from typing import Any

from controller import constants
from controller.kube import RUNNER_SESSIONS
from controller.sandbox import Fault
from tests.operator.run_fixtures import FLY_APP, FLY_TOKEN, RunLoop
from tests.operator.test_events import events_of
from tests.support.waiting import eventually

NAME = "eng-1-implementation-1"


async def create_session(loop: RunLoop, machine_id: str) -> None:
    body = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.RUNNER_SESSION_KIND,
        "metadata": {"name": NAME, "namespace": loop.namespace, "finalizers": [constants.FINALIZER]},
        "spec": {"dispatch": NAME, "backend": "fly-machines", "resourceId": machine_id, "app": FLY_APP},
    }
    await loop.kube.create(RUNNER_SESSIONS, loop.namespace, body)


async def session_status(loop: RunLoop) -> dict[str, Any]:
    status: dict[str, Any] = (await loop.kube.get(RUNNER_SESSIONS, loop.namespace, NAME)).get("status") or {}
    return status


def reads_of(loop: RunLoop, machine_id: str) -> int:
    return len(loop.fly.requests_to("GET", f"/v1/apps/{FLY_APP}/machines/{machine_id}"))


async def test_a_backend_that_refuses_the_credentials_stops_the_handler_with_a_condition_and_an_event(
    loop: RunLoop,
) -> None:
    machine = loop.fly.add_machine(FLY_APP, name="refused")
    loop.fly.revoke_token(FLY_TOKEN)
    runtime = await loop.operator()
    await loop.lead(runtime)
    await create_session(loop, machine.id)

    async def stopped() -> bool:
        conditions = (await session_status(loop)).get("conditions") or []
        return any(c["type"] == "Reconciled" for c in conditions)

    await eventually(stopped, within=30)
    [condition] = (await session_status(loop))["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "ServiceRefused")
    assert "401" in condition["message"] or "unauthori" in condition["message"].lower()
    warnings = [e for e in await events_of(loop.kube, loop.namespace, NAME) if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["ServiceRefused"]
    assert warnings[0]["message"] == condition["message"]

    tried = reads_of(loop, machine.id)
    await asyncio.sleep(3.0)  # ten sync intervals: a permanent error is not retried
    assert reads_of(loop, machine.id) == tried


async def test_a_temporary_error_is_tried_again_after_the_wait_the_service_asked_for(loop: RunLoop) -> None:
    machine = loop.fly.add_machine(FLY_APP, name="busy")
    path = f"/v1/apps/{FLY_APP}/machines/{machine.id}"
    loop.fly.inject(Fault.unavailable(status=503, method="GET", path=path), times=None)
    runtime = await loop.operator()
    await loop.lead(runtime)
    await create_session(loop, machine.id)
    await eventually(lambda: reads_of(loop, machine.id) > 0, within=30)

    loop.fly.clear_faults()

    async def mirrored() -> bool:
        return (await session_status(loop)).get("state") == "started"

    await eventually(mirrored, within=30)
    assert "conditions" not in await session_status(loop), "a temporary error sets no condition"


async def test_a_session_whose_backend_cannot_be_destroyed_stays_with_its_finalizer_and_says_why(
    loop: RunLoop,
) -> None:
    machine = loop.fly.add_machine(FLY_APP, name="kept")
    runtime = await loop.operator()
    await loop.lead(runtime)
    await create_session(loop, machine.id)

    async def mirrored() -> bool:
        return (await session_status(loop)).get("state") == "started"

    await eventually(mirrored, within=30)
    loop.fly.revoke_token(FLY_TOKEN)
    await loop.kube.delete(RUNNER_SESSIONS, loop.namespace, NAME)

    async def told() -> bool:
        return any(e["type"] == "Warning" for e in await events_of(loop.kube, loop.namespace, NAME))

    await eventually(told, within=30)
    await asyncio.sleep(2)
    kept = await loop.kube.get(RUNNER_SESSIONS, loop.namespace, NAME)
    assert kept["metadata"]["deletionTimestamp"]
    assert constants.FINALIZER in kept["metadata"]["finalizers"], "no session goes before its machine"
    assert loop.fly.machine(machine.id).state == "started"
    [warning] = [e for e in await events_of(loop.kube, loop.namespace, NAME) if e["type"] == "Warning"]
    assert warning["message"].startswith("cannot go on: ")
