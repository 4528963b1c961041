"""Everything the operator process holds open: store, Kubernetes client, caches, clients and loops.

Opened once at start and closed in reverse order at the end; the loops of the active replica
run only while the Lease is held.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from controller.clock import Clock, utc_now
from controller.config import Settings
from controller.config.overrides import read_service_account_namespace, resolve_namespace
from controller.kube import DISPATCHES, PROJECT_MAPPINGS, Informer, KubeClient, KubeConnection, load_connection
from controller.operator.dispatching import Dispatcher
from controller.operator.leadership import LeaderElector, LeaseTiming
from controller.operator.polling import Housekeeper, MappingStatusWriter, ProviderPoller, WakeupProcessor
from controller.store import Store, database_url_from_settings, upgrade_database
from controller.ticketing.clients import open_ticketing_clients
from controller.ticketing.model import Provider, TicketSource

logger = logging.getLogger("controller.operator")

LEASE_NAME = "ai-implement-operator"
DEFAULT_LEASE_TIMING = LeaseTiming()


@dataclass
class OperatorRuntime:
    """The operator's open resources; `lead()` is what the active replica does."""

    settings: Settings
    store: Store
    kube: KubeClient
    namespace: str
    mappings: Informer
    dispatches: Informer
    sources: dict[Provider, TicketSource]
    dispatcher: Dispatcher
    statuses: MappingStatusWriter
    elector: LeaderElector
    clock: Clock

    def pollers(self) -> list[ProviderPoller]:
        interval = self.settings.poll_interval.total_seconds()
        return [
            ProviderPoller(source, self.dispatcher, self.mappings, self.store, self.statuses, interval)
            for source in self.sources.values()
        ]

    def wakeups(self) -> WakeupProcessor:
        return WakeupProcessor(
            self.sources, self.dispatcher, self.mappings, self.store, self.settings.ai_implement_label
        )

    async def lead(self) -> None:
        """Poll every provider and act on webhooks, until leadership ends."""
        if not (await self.mappings.wait_synced(30) and await self.dispatches.wait_synced(30)):
            raise RuntimeError("the ProjectMapping and Dispatch caches did not sync within 30 s; stepping down")
        async with asyncio.TaskGroup() as group:
            for poller in self.pollers():
                group.create_task(poller.run(), name=f"poll:{poller.source.provider}")
            group.create_task(self.wakeups().run(), name="webhook-wakeups")
            group.create_task(Housekeeper(self.store, self.clock).run(), name="housekeeping")


def replica_identity() -> str:
    """Unique per process, readable in `kubectl get lease`: the pod (host) name and a random suffix."""
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"


@asynccontextmanager
async def open_operator_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    lease_timing: LeaseTiming = DEFAULT_LEASE_TIMING,
    connection: KubeConnection | None = None,
) -> AsyncIterator[OperatorRuntime]:
    """Open every dependency in order; the caller runs `runtime.elector.run(runtime.lead)`."""
    url = database_url_from_settings(settings)
    await upgrade_database(url)
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(Store.from_url(url))
        namespace = resolve_namespace(settings, read_service_account_namespace())
        kube = await stack.enter_async_context(KubeClient(connection or load_connection()))
        mappings = await stack.enter_async_context(Informer(kube, PROJECT_MAPPINGS, namespace))
        dispatches = await stack.enter_async_context(Informer(kube, DISPATCHES, namespace))
        dispatcher = Dispatcher(settings=settings, store=store, kube=kube, dispatches=dispatches, clock=clock)
        yield OperatorRuntime(
            settings=settings,
            store=store,
            kube=kube,
            namespace=namespace,
            mappings=mappings,
            dispatches=dispatches,
            sources=(await open_ticketing_clients(settings, stack)).sources(),
            dispatcher=dispatcher,
            statuses=MappingStatusWriter(settings, store, kube, mappings, clock),
            elector=LeaderElector(kube, namespace, LEASE_NAME, replica_identity(), timing=lease_timing),
            clock=clock,
        )
