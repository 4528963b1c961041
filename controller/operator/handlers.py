"""kopf handlers: the reconciliation of all three kinds, registered into a registry of our own.

kopf runs standalone, only during the leader's term (`main.py`), so no kopf peering is involved.
- ProjectMapping: conditions, effective runner mode and iteration cap, on every spec change (the
  leader also refreshes them every poll interval: a conflict with another mapping, or a runner mode
  set in the admin API, changes them too, without a change of the mapping's own spec).
- Dispatch: one daemon per open Dispatch does what `runs.rules.next_step` decides (start, follow,
  finish, close out), sleeping until its next deadline; kopf's event handler wakes it on any change.
- RunnerSession: a timer mirrors the backend into status; the delete handler destroys the backend
  resource, and kopf's finalizer keeps the object until it has.
Every handler's work runs inside `runtime.errors.guard` (`error_boundary.py`): temporary errors come
back through `kopf.TemporaryError(delay=...)`, permanent ones set a condition, post a Warning Event
and stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import kopf

from controller import constants
from controller.kube import DISPATCHES, PROJECT_MAPPINGS, RUNNER_SESSIONS
from controller.kube.errors import NotFoundError
from controller.operator.runtime import OperatorRuntime
from controller.operator.sessions.reconciler import has_ended

logger = logging.getLogger("controller.operator")

ANNOTATION_PREFIX = constants.GROUP
DISPATCH_STEPS_AT_ONCE: Final = 8
"""Dispatch steps in flight at once: a burst of 100 tickets does not start 100 runs on one backend at once
(GitHub's secondary rate limits punish exactly that); measured, it makes no difference to a burst's throughput."""

_KINDS: Final = (constants.GROUP, constants.VERSION)
# Every handler has an explicit `id`: kopf keeps a retried handler's progress in an annotation named
# after it, and a name derived from a nested function (`_register_x.<locals>.y`) is not a valid key.


def build_registry(runtime: OperatorRuntime) -> kopf.OperatorRegistry:
    """A registry holding every handler, bound to one runtime (no module-level state)."""
    registry = kopf.OperatorRegistry()
    _register_settings(registry)
    _register_mappings(registry, runtime)
    _register_dispatches(registry, runtime)
    _register_sessions(registry, runtime)
    return registry


def _register_settings(registry: kopf.OperatorRegistry) -> None:
    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        """Progress in our own annotations and our own finalizer; only warnings become Kubernetes Events.

        No scanning: kopf serves our one namespace and our CRDs as discovery shows them at the start of
        the term, so the operator needs no cluster-wide right to list namespaces or CRDs (RBAC in
        manifests/base); CRDs added or upgraded later are picked up by the next term or restart.
        """
        settings.scanning.disabled = True
        settings.posting.level = logging.WARNING
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATION_PREFIX)
        settings.persistence.finalizer = constants.FINALIZER
        settings.watching.server_timeout = 300

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        """In a pod, the service account; elsewhere KUBECONFIG as it is now (not as it was at import)."""
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def _register_mappings(registry: kopf.OperatorRegistry, runtime: OperatorRuntime) -> None:
    plural = constants.PROJECT_MAPPING_PLURAL

    @kopf.on.resume(*_KINDS, plural, id="mapping-status", registry=registry)
    @kopf.on.create(*_KINDS, plural, id="mapping-status", registry=registry)
    @kopf.on.update(*_KINDS, plural, field="spec", id="mapping-status", registry=registry)
    async def projectmapping_reconcile(body: kopf.Body, **_: Any) -> None:
        """Conditions, effective runner mode and iteration cap, written only when they change."""
        await runtime.errors.guard(PROJECT_MAPPINGS, body, lambda: runtime.mapping_reconciler.reconcile(body))


def _register_dispatches(registry: kopf.OperatorRegistry, runtime: OperatorRuntime) -> None:
    plural = constants.DISPATCH_PLURAL
    at_once = asyncio.Semaphore(DISPATCH_STEPS_AT_ONCE)

    @kopf.on.event(*_KINDS, plural, id="wake-dispatch", registry=registry)
    async def dispatch_changed(name: str, **_: Any) -> None:  # async: kopf runs plain functions in threads
        """Whatever changed (a callback, an ended session, a cancellation), its daemon looks again now."""
        runtime.dispatch_wakeups.poke(name)

    @kopf.daemon(
        *_KINDS,
        plural,
        when=_dispatch_open,
        cancellation_backoff=runtime.dispatch_stop_seconds,  # asked to stop, it finishes its step within this
        cancellation_timeout=1.0,  # then it is cancelled
        id="follow-dispatch",
        registry=registry,
    )
    async def follow_dispatch(name: str, body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        """One Dispatch from start to close-out; returns once it is closed (kopf then lifts its finalizer)."""
        with runtime.dispatch_wakeups.following(name) as signal:
            while not stopped:
                signal.clear()
                async with at_once:
                    recheck = await runtime.errors.guard(DISPATCHES, body, lambda: runtime.runs.reconcile(name))
                if recheck is None and await _closed_or_gone(runtime, name):
                    return
                await signal.wait(_seconds(recheck), stopped.wait())


def _register_sessions(registry: kopf.OperatorRegistry, runtime: OperatorRuntime) -> None:
    plural = constants.RUNNER_SESSION_PLURAL
    interval = runtime.session_sync_interval.total_seconds()

    @kopf.timer(*_KINDS, plural, interval=interval, when=_session_live, id="mirror-session", registry=registry)
    async def mirror_session(name: str, body: kopf.Body, **_: Any) -> None:
        """The backend's view of the session's resource, in its status (not while a permanent error stops it)."""
        if runtime.errors.is_stopped(RUNNER_SESSIONS, body):
            return
        await runtime.errors.guard(RUNNER_SESSIONS, body, lambda: runtime.session_reconciler.mirror(name))

    @kopf.on.delete(*_KINDS, plural, id="destroy-session", registry=registry)
    async def destroy_session(body: kopf.Body, **_: Any) -> None:
        """The machine, container or workflow run goes before the object does."""
        await runtime.errors.guard(
            RUNNER_SESSIONS, body, lambda: runtime.session_reconciler.destroy(body), must_finish=True
        )


def _dispatch_open(status: Mapping[str, Any], **_: Any) -> bool:
    return not status.get("closedAt")


def _session_live(status: Mapping[str, Any], meta: Mapping[str, Any], **_: Any) -> bool:
    return not has_ended(status) and not meta.get("deletionTimestamp")


def _seconds(recheck: timedelta | None) -> float | None:
    return None if recheck is None else max(recheck.total_seconds(), 0.0)


async def _closed_or_gone(runtime: OperatorRuntime, name: str) -> bool:
    try:
        dispatch = await runtime.kube.get(DISPATCHES, runtime.namespace, name)
    except NotFoundError:
        return True
    return bool((dispatch.get("status") or {}).get("closedAt")) or bool(dispatch["metadata"].get("deletionTimestamp"))
