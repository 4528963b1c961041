"""RunnerSession reconciliation: mirror the backend into status, and destroy it before the session goes.

kopf calls both (`handlers.py`): `mirror` as a timer every `SYNC_INTERVAL` while the session's
resource lives, `destroy` from the delete handler. kopf's finalizer (`ai-implement.dev/finalizer`)
is set when the Dispatch reconciler creates the session, so Kubernetes keeps a deleted session until
its machine, container or workflow run is destroyed. When the backend resource ends, or is destroyed
because the session was deleted, the Dispatch gets `runnerEndedAt` once (it fails after a grace if no
result follows); a shadow session instead records its outcome on the Dispatch and removes itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from controller import constants
from controller.clock import Clock, kube_timestamp
from controller.kube import DISPATCHES, RUNNER_SESSIONS, KubeClient, apply_conditions
from controller.kube.errors import NotFoundError
from controller.resources.dispatch import is_terminal
from controller.resources.runner_session import RunnerSessionSpec, RunnerSessionStatus
from controller.runners.backend import RunHandle
from controller.runners.registry import Backends

logger = logging.getLogger("controller.operator")

SYNC_INTERVAL = timedelta(seconds=30)
ENDED_STATES = frozenset({"stopped", "destroyed"})


def status_patch(handle: RunHandle | None, previous: RunnerSessionStatus, now: datetime) -> dict[str, Any]:
    """The session's status from what the backend says now (None: the resource is gone)."""
    state = handle.state if handle is not None else "destroyed"
    started_at = handle.created_at if handle is not None and handle.created_at else previous.started_at
    patch: dict[str, Any] = {
        "state": state,
        "backendState": handle.backend_state if handle is not None else "gone",
        "lastSyncedAt": kube_timestamp(now),
    }
    if started_at is not None:
        patch["startedAt"] = kube_timestamp(started_at)
        patch["uptimeSeconds"] = max(int((now - started_at).total_seconds()), 0)
    if handle is not None and handle.exit_code is not None:
        patch["exitCode"] = handle.exit_code
    if state in ENDED_STATES and previous.finished_at is None:
        patch["finishedAt"] = kube_timestamp(now)
    return patch


def has_ended(status: Mapping[str, Any] | None) -> bool:
    """Whether the session's resource is gone for good, so there is nothing left to mirror."""
    return (status or {}).get("state") in ENDED_STATES


@dataclass
class SessionReconciler:
    kube: KubeClient
    namespace: str
    backends: Backends
    clock: Clock

    async def mirror(self, name: str) -> None:
        """Copy the backend's view into status; once it ended, tell the Dispatch (a shadow removes itself)."""
        try:
            session = await self.kube.get(RUNNER_SESSIONS, self.namespace, name)
        except NotFoundError:
            return
        if session["metadata"].get("deletionTimestamp"):
            return  # the delete handler has it
        spec = RunnerSessionSpec.model_validate(session["spec"])
        handle = await self.backends.backend(spec.backend).status(spec.resource_id)
        previous = RunnerSessionStatus.model_validate(session.get("status") or {})
        patch = status_patch(handle, previous, self.clock())
        ended = patch["state"] in ENDED_STATES
        # The Dispatch is told before the ended state is written: once it is, the timer stops, and a
        # failure to tell would never be tried again.
        if ended and spec.shadow:
            await self._record_shadow_outcome(spec, patch)
        elif ended:
            await self._runner_ended(spec.dispatch)
        await self.kube.merge_patch(
            RUNNER_SESSIONS,
            self.namespace,
            name,
            {"status": patch},
            subresource="status",
            field_manager=constants.FIELD_MANAGER,
        )
        if ended and spec.shadow:
            with contextlib.suppress(NotFoundError):
                await self.kube.delete(RUNNER_SESSIONS, self.namespace, name)

    async def destroy(self, session: Mapping[str, Any]) -> None:
        """Destroy the backend resource of a session being deleted (kopf then lifts its finalizer)."""
        spec = RunnerSessionSpec.model_validate(session["spec"])
        await self.backends.backend(spec.backend).destroy(spec.resource_id)
        logger.info("destroyed %s %s of %s", spec.backend, spec.resource_id, spec.dispatch)
        if not spec.shadow:
            await self._runner_ended(spec.dispatch)
        await self._drop_finalizer_before_kopf(session)

    async def _drop_finalizer_before_kopf(self, session: Mapping[str, Any]) -> None:
        """A session created before kopf reconciled sessions also holds the older finalizer."""
        finalizers = list(session["metadata"].get("finalizers") or [])
        if constants.FINALIZER_BEFORE_KOPF not in finalizers:
            return
        remaining = [item for item in finalizers if item != constants.FINALIZER_BEFORE_KOPF]
        metadata = {"finalizers": remaining, "resourceVersion": session["metadata"]["resourceVersion"]}
        with contextlib.suppress(NotFoundError):
            await self.kube.merge_patch(
                RUNNER_SESSIONS, self.namespace, session["metadata"]["name"], {"metadata": metadata}
            )

    async def _runner_ended(self, dispatch_name: str) -> None:
        """Tell the Dispatch, once, that its run's resource ended (or was destroyed from under it)."""
        try:
            dispatch = await self.kube.get(DISPATCHES, self.namespace, dispatch_name)
        except NotFoundError:
            return
        status = dispatch.get("status") or {}
        if status.get("runnerEndedAt") or is_terminal(status.get("phase")):
            return
        await self.kube.merge_patch(
            DISPATCHES,
            self.namespace,
            dispatch_name,
            {"status": {"runnerEndedAt": kube_timestamp(self.clock())}},
            subresource="status",
            field_manager=constants.FIELD_MANAGER,
        )

    async def _record_shadow_outcome(self, spec: RunnerSessionSpec, patch: Mapping[str, Any]) -> None:
        """A shadow's outcome goes on its Dispatch as a condition, and never decides its phase."""
        exit_code = patch.get("exitCode")
        succeeded = exit_code == 0
        condition = {
            "type": "ShadowRunFinished",
            "status": "True",
            "reason": "Succeeded" if succeeded else "Failed",
            "message": f"shadow {spec.backend} run {spec.resource_id} ended "
            + (f"with exit code {exit_code}" if exit_code is not None else f"({patch['backendState']})"),
            "lastTransitionTime": patch["lastSyncedAt"],
        }
        with contextlib.suppress(NotFoundError):
            await apply_conditions(
                self.kube, DISPATCHES, self.namespace, spec.dispatch, [condition], constants.FIELD_MANAGER_SESSIONS
            )
