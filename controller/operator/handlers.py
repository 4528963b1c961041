"""kopf handlers: the reconciliation of all three kinds, registered into a registry of our own.

kopf runs standalone, only during the leader's term (`main.py`), so no kopf peering is involved.
- ProjectMapping: conditions, effective runner mode and iteration cap, on every spec change (the
  leader also refreshes them every poll interval: a conflict with another mapping, or a runner mode
  set in the admin API, changes them too, without a change of the mapping's own spec).
- Dispatch: one daemon per open Dispatch does what `run_rules.next_step` decides (start, follow,
  finish, close out), sleeping until its next deadline; kopf's event handler wakes it on any change.
- RunnerSession: a timer mirrors the backend into status; the delete handler destroys the backend
  resource, and kopf's finalizer keeps the object until it has.
Errors are classified once, here (`retrying.classify`): temporary ones come back through
`kopf.TemporaryError(delay=...)`, permanent ones set a condition, post a Warning Event and stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final, NoReturn

import kopf

from controller import constants
from controller.clock import kube_timestamp
from controller.kube import DISPATCHES, PROJECT_MAPPINGS, RUNNER_SESSIONS, ApiResource, EventType
from controller.kube.errors import KubeError, NotFoundError
from controller.operator.retrying import classify
from controller.operator.runtime import OperatorRuntime
from controller.operator.sessions import has_ended

logger = logging.getLogger("controller.operator")

ANNOTATION_PREFIX = constants.GROUP
DISPATCH_STOP_SECONDS: Final = 10.0
"""How long a Dispatch's daemon may take to finish its step when the term ends, before it is cancelled."""
DISPATCH_STEPS_AT_ONCE: Final = 8
"""Dispatch steps in flight at once: a burst of 100 tickets does not start 100 runs on one backend at once
(GitHub's secondary rate limits punish exactly that); measured, it makes no difference to a burst's throughput."""
RECONCILE_CONDITION: Final = "Reconciled"
"""The condition a permanent error sets on the object it stopped."""

_KINDS: Final = (constants.GROUP, constants.VERSION)


def build_registry(runtime: OperatorRuntime) -> kopf.OperatorRegistry:
    """A registry holding every handler, bound to one runtime (no module-level state)."""
    registry = kopf.OperatorRegistry()
    failures = FailureCounts()
    _register_settings(registry)
    _register_mappings(registry, runtime, failures)
    _register_dispatches(registry, runtime, failures)
    _register_sessions(registry, runtime, failures)
    return registry


def _register_settings(registry: kopf.OperatorRegistry) -> None:
    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        """Progress in our own annotations and our own finalizer; only warnings become Kubernetes Events."""
        settings.posting.level = logging.WARNING
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATION_PREFIX)
        settings.persistence.finalizer = constants.FINALIZER
        settings.watching.server_timeout = 300

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        """In a pod, the service account; elsewhere KUBECONFIG as it is now (not as it was at import)."""
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def _register_mappings(registry: kopf.OperatorRegistry, runtime: OperatorRuntime, failures: FailureCounts) -> None:
    plural = constants.PROJECT_MAPPING_PLURAL

    @kopf.on.resume(*_KINDS, plural, registry=registry)
    @kopf.on.create(*_KINDS, plural, registry=registry)
    @kopf.on.update(*_KINDS, plural, field="spec", registry=registry)
    async def projectmapping_reconcile(name: str, body: kopf.Body, **_: Any) -> None:
        """Conditions, effective runner mode and iteration cap, written only when they change."""
        try:
            await runtime.mapping_reconciler.reconcile(body)
        except Exception as error:
            await _failed(runtime, failures, PROJECT_MAPPINGS, body, error)
        failures.clear(plural, name)


def _register_dispatches(registry: kopf.OperatorRegistry, runtime: OperatorRuntime, failures: FailureCounts) -> None:
    plural = constants.DISPATCH_PLURAL
    at_once = asyncio.Semaphore(DISPATCH_STEPS_AT_ONCE)

    @kopf.on.event(*_KINDS, plural, registry=registry)
    def dispatch_changed(name: str, **_: Any) -> None:
        """Whatever changed (a callback, an ended session, a cancellation), its daemon looks again now."""
        runtime.dispatch_wakeups.poke(name)

    @kopf.daemon(
        *_KINDS,
        plural,
        when=_dispatch_open,
        cancellation_timeout=DISPATCH_STOP_SECONDS,
        registry=registry,
    )
    async def follow_dispatch(name: str, body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        """One Dispatch from start to close-out; returns once it is closed (kopf then lifts its finalizer)."""
        with runtime.dispatch_wakeups.following(name) as signal:
            while not stopped:
                signal.clear()
                try:
                    async with at_once:
                        recheck = await runtime.runs.reconcile(name)
                except Exception as error:
                    await _failed(runtime, failures, DISPATCHES, body, error)
                failures.clear(plural, name)
                if recheck is None and await _closed_or_gone(runtime, name):
                    return
                await signal.wait(_seconds(recheck), stopped.wait())


def _register_sessions(registry: kopf.OperatorRegistry, runtime: OperatorRuntime, failures: FailureCounts) -> None:
    plural = constants.RUNNER_SESSION_PLURAL
    interval = runtime.session_sync_interval.total_seconds()

    @kopf.timer(*_KINDS, plural, interval=interval, when=_session_live, registry=registry)
    async def mirror_session(name: str, body: kopf.Body, **_: Any) -> None:
        """The backend's view of the session's resource, in its status."""
        try:
            await runtime.session_reconciler.mirror(name)
        except Exception as error:
            await _failed(runtime, failures, RUNNER_SESSIONS, body, error)
        failures.clear(plural, name)

    @kopf.on.delete(*_KINDS, plural, registry=registry)
    async def destroy_session(name: str, body: kopf.Body, **_: Any) -> None:
        """The machine, container or workflow run goes before the object does."""
        try:
            await runtime.session_reconciler.destroy(body)
        except Exception as error:
            await _failed(runtime, failures, RUNNER_SESSIONS, body, error)
        failures.clear(plural, name)


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


class FailureCounts:
    """Failures in a row of the same object's work, for the backoff; cleared by a success."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}

    def add(self, plural: str, name: str) -> int:
        key = (plural, name)
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts[key]

    def clear(self, plural: str, name: str) -> None:
        self._counts.pop((plural, name), None)


async def _failed(
    runtime: OperatorRuntime, failures: FailureCounts, resource: ApiResource, body: kopf.Body, error: Exception
) -> NoReturn:
    """Turn any error into kopf's retry (temporary) or a condition, an Event and a stop (permanent)."""
    name = str(body["metadata"]["name"])
    attempt = failures.add(resource.plural, name)
    verdict = classify(error, attempt)
    what = f"{resource.kind} {name}"
    if verdict.temporary:
        logger.warning(
            "%s: %s (attempt %d), trying again in %.0f s",
            what,
            error,
            attempt,
            verdict.delay,
            exc_info=not verdict.expected,
        )
        raise kopf.TemporaryError(f"{verdict.reason}: {error}", delay=verdict.delay) from error
    failures.clear(resource.plural, name)
    message = f"stopped reconciling: {error}"
    logger.error("%s %s", what, message)
    await runtime.events.record(resource, body, EventType.WARNING, verdict.reason, message, runtime.clock())
    await _set_stopped_condition(runtime, resource, name, verdict.reason, message)
    raise kopf.PermanentError(message) from error


async def _set_stopped_condition(
    runtime: OperatorRuntime, resource: ApiResource, name: str, reason: str, message: str
) -> None:
    """`Reconciled=False` with the reason, applied as its own field manager: no one else's condition moves."""
    condition = {
        "type": RECONCILE_CONDITION,
        "status": "False",
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": kube_timestamp(runtime.clock()),
    }
    body = {"metadata": {"name": name}, "status": {"conditions": [condition]}}
    try:
        await runtime.kube.apply(
            resource, runtime.namespace, body, constants.FIELD_MANAGER_ERRORS, force=True, subresource="status"
        )
    except KubeError as error:
        logger.warning("could not set %s on %s %s: %s", RECONCILE_CONDITION, resource.kind, name, error)
