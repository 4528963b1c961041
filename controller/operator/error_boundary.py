"""Where kopf's handlers (and the leader's mapping refresh) meet errors: retry later, or stop and say why.

`guard` runs one piece of an object's work. A temporary error becomes `kopf.TemporaryError` with the
delay `retrying.classify` chose (the service's own `Retry-After` first). A permanent one posts a
Warning Event, sets `Reconciled=False` on the object and becomes `kopf.PermanentError`; the object is
then left alone until its spec changes (a new generation) or a new term begins, so that a timer or
a periodic refresh does not retry it forever. (A Dispatch's daemon that stopped this way is not
restarted by kopf before the next term, whatever changes.) The next success removes the condition.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, TypeVar

import kopf

from controller import constants
from controller.clock import Clock, kube_timestamp
from controller.kube import ApiResource, EventRecorder, EventType, KubeClient, apply_conditions
from controller.kube.errors import KubeError
from controller.operator.retrying import BACKOFF_MAX_SECONDS, classify

logger = logging.getLogger("controller.operator")

RECONCILE_CONDITION: Final = "Reconciled"
"""The condition a permanent error sets on the object it stopped."""

T = TypeVar("T")
_Key = tuple[str, str]


@dataclass
class ErrorBoundary:
    kube: KubeClient
    namespace: str
    events: EventRecorder
    clock: Clock
    _attempts: dict[_Key, int] = field(default_factory=dict)
    _stopped: dict[_Key, int] = field(default_factory=dict)
    """Objects stopped by a permanent error this term, with the generation that failed."""

    def is_stopped(self, resource: ApiResource, body: Mapping[str, Any]) -> bool:
        """Stopped by a permanent error, and its spec has not changed since."""
        metadata = body["metadata"]
        failed_generation = self._stopped.get((resource.plural, str(metadata["name"])))
        return failed_generation is not None and failed_generation == int(metadata.get("generation") or 0)

    async def guard(
        self,
        resource: ApiResource,
        body: Mapping[str, Any],
        work: Callable[[], Awaitable[T]],
        *,
        must_finish: bool = False,
    ) -> T:
        """`work()`, with its errors classified; a stopped object's work is skipped (PermanentError).

        `must_finish`: work that may not be abandoned (destroying a backend before its session goes: kopf
        would let the object go after a permanent failure). A permanent error is still reported, but the
        work is tried again every `BACKOFF_MAX_SECONDS` until someone fixes the cause.
        """
        key = (resource.plural, str(body["metadata"]["name"]))
        if not must_finish and self.is_stopped(resource, body):
            raise kopf.PermanentError(f"{resource.kind} {key[1]} stays stopped until its spec changes")
        try:
            result = await work()
        except Exception as error:
            await self._failed(resource, body, error, must_finish=must_finish)
        self._attempts.pop(key, None)
        self._stopped.pop(key, None)
        if _has_stopped_condition(body):
            await self._apply_condition(resource, key[1], None)
        return result

    def new_term(self) -> None:
        """A new term tries every object again once, whatever stopped it before."""
        self._attempts.clear()
        self._stopped.clear()

    async def _failed(
        self, resource: ApiResource, body: Mapping[str, Any], error: Exception, *, must_finish: bool
    ) -> NoReturn:
        name = str(body["metadata"]["name"])
        key = (resource.plural, name)
        attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
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
        self._attempts.pop(key, None)
        message = f"{'cannot go on' if must_finish else 'stopped reconciling'}: {error}"
        logger.error("%s %s", what, message)
        await self.events.record(resource, body, EventType.WARNING, verdict.reason, message, self.clock())
        await self._apply_condition(resource, name, (verdict.reason, message))
        if must_finish:
            raise kopf.TemporaryError(message, delay=BACKOFF_MAX_SECONDS) from error
        self._stopped[key] = int(body["metadata"].get("generation") or 0)
        raise kopf.PermanentError(message) from error

    async def _apply_condition(self, resource: ApiResource, name: str, stop: tuple[str, str] | None) -> None:
        """`Reconciled=False` (or nothing: removed) as its own field manager, so no other condition moves."""
        conditions = []
        if stop is not None:
            reason, message = stop
            conditions.append(
                {
                    "type": RECONCILE_CONDITION,
                    "status": "False",
                    "reason": reason,
                    "message": message[:1024],
                    "lastTransitionTime": kube_timestamp(self.clock()),
                }
            )
        try:
            await apply_conditions(
                self.kube, resource, self.namespace, name, conditions, constants.FIELD_MANAGER_ERRORS
            )
        except KubeError as error:
            logger.warning("could not write %s on %s %s: %s", RECONCILE_CONDITION, resource.kind, name, error)


def _has_stopped_condition(body: Mapping[str, Any]) -> bool:
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(condition.get("type") == RECONCILE_CONDITION for condition in conditions)
