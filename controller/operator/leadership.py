"""Leader election on a coordination.k8s.io Lease, the operator's one election: exactly one replica acts.

kopf's handlers, the pollers, the reconcilers and the reaper all run only while this process holds
the Lease (`main.py` starts and stops them with each term). Expiry is judged by local monotonic time
since the record last changed, as client-go does, so that clock skew between replicas cannot make
two leaders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.kube import LEASES, AlreadyExistsError, ConflictError, KubeClient, KubeError, NotFoundError

logger = logging.getLogger("controller.operator.leadership")


@dataclass(frozen=True)
class LeaseTiming:
    """How long a lease lasts unrenewed, how often the leader renews, and how often others retry."""

    duration: float = 15.0
    renew_every: float = 5.0
    retry_every: float = 2.0

    @classmethod
    def of(cls, duration: float) -> LeaseTiming:
        """LEADER_LEASE_SECONDS: renewed every third of it, others retry every 2/15 of it (2 s of 15)."""
        return cls(duration=duration, renew_every=duration / 3, retry_every=duration * 2 / 15)

    @property
    def handover_margin(self) -> float:
        """From the moment a leader steps down (it could not renew) to the earliest another may lead:
        the time its term has to stop, so that two replicas never act at once."""
        return self.duration - self.renew_deadline

    @property
    def renew_deadline(self) -> float:
        """A leader that could not renew for this long steps down before anyone may take over."""
        return self.duration * 2 / 3


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Acquires and renews one Lease for `identity`, and runs `lead()` only while holding it."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str,
        identity: str,
        *,
        timing: LeaseTiming | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._name = name
        self.identity = identity
        self._timing = timing or LeaseTiming()
        self.timing = self._timing
        self._monotonic = monotonic
        self._observed: tuple[str | None, str | None] | None = None
        self._observed_at = 0.0
        self._resource_version: str | None = None
        self.is_leader = False
        self._holds_lease = False

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Forever: wait for the lease, lead while it is renewed, step down when it is not."""
        try:
            while True:
                if await self._try_acquire():
                    self._holds_lease = True
                    logger.info("became the leader as %s", self.identity)
                    await self._lead_while_renewed(lead)
                    self._holds_lease = False
                    logger.warning("%s stopped leading", self.identity)
                await asyncio.sleep(self._timing.retry_every)
        finally:
            if self._holds_lease:
                await self._release()

    async def _lead_while_renewed(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.is_leader = True
        leading = asyncio.create_task(lead(), name=f"lead:{self._name}")
        last_renewed = self._monotonic()
        try:
            while not leading.done():
                done, _ = await asyncio.wait({leading}, timeout=self._timing.renew_every)
                if done:
                    break
                remaining = self._timing.renew_deadline - (self._monotonic() - last_renewed)
                if await self._renew_within(remaining):
                    last_renewed = self._monotonic()
                elif self._monotonic() - last_renewed >= self._timing.renew_deadline:
                    break
        finally:
            self.is_leader = False
            leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leading
            if leading.done() and not leading.cancelled() and leading.exception() is not None:
                logger.error("the leader's work failed", exc_info=leading.exception())

    async def _get(self) -> dict[str, Any] | None:
        try:
            lease = await self._client.get(LEASES, self._namespace, self._name)
        except NotFoundError:
            return None
        spec = lease.get("spec") or {}
        record = (spec.get("holderIdentity"), spec.get("renewTime"))
        if record != self._observed:
            self._observed, self._observed_at = record, self._monotonic()
        self._resource_version = lease["metadata"]["resourceVersion"]
        return lease

    async def _try_acquire(self) -> bool:
        try:
            lease = await self._get()
            now = datetime.now(UTC)
            if lease is None:
                await self._client.create(LEASES, self._namespace, self._new_lease(now))
                return True
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity")
            expired = self._monotonic() - self._observed_at > float(spec.get("leaseDurationSeconds") or 0)
            if holder and holder != self.identity and not expired:
                return False
            transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == self.identity else 1)
            await self._update(
                {
                    "holderIdentity": self.identity,
                    "leaseDurationSeconds": int(self._timing.duration),
                    "acquireTime": _micro_time(now),
                    "renewTime": _micro_time(now),
                    "leaseTransitions": transitions,
                }
            )
            return True
        except (AlreadyExistsError, ConflictError):
            return False
        except KubeError as error:
            logger.warning("could not acquire the lease %s: %s", self._name, error)
            return False

    async def _renew_within(self, seconds: float) -> bool:
        """A renewal that cannot outlast the renew deadline, however slow the API server answers."""
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                return await self._try_renew()
        except TimeoutError:
            logger.warning("renewing the lease %s took too long", self._name)
            return False

    async def _try_renew(self) -> bool:
        try:
            lease = await self._get()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return False
            await self._update({"renewTime": _micro_time(datetime.now(UTC))})
            return True
        except KubeError as error:
            logger.warning("could not renew the lease %s: %s", self._name, error)
            return False

    async def _update(self, spec: dict[str, Any]) -> None:
        """A merge patch carrying the resourceVersion we read: the API server refuses it if anyone wrote since."""
        patched = await self._client.merge_patch(
            LEASES, self._namespace, self._name, {"metadata": {"resourceVersion": self._resource_version}, "spec": spec}
        )
        self._resource_version = patched["metadata"]["resourceVersion"]

    async def _release(self) -> None:
        """Give the lease up on a clean shutdown, so that another replica takes over at once."""
        with contextlib.suppress(KubeError):
            await self._get()
            await self._update({"holderIdentity": None, "leaseDurationSeconds": 1})
        self._holds_lease = False

    def _new_lease(self, now: datetime) -> dict[str, Any]:
        return {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {"name": self._name, "namespace": self._namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self._timing.duration),
                "acquireTime": _micro_time(now),
                "renewTime": _micro_time(now),
                "leaseTransitions": 0,
            },
        }
