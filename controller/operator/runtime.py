"""Everything the operator process holds open: store, Kubernetes client, caches, clients and loops.

Opened once at start and closed in reverse order at the end; the loops of the active replica
run only while the Lease is held.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import kopf

from controller.clock import Clock, utc_now
from controller.config import Settings
from controller.config.overrides import read_service_account_namespace, resolve_namespace
from controller.kube import (
    DISPATCHES,
    PROJECT_MAPPINGS,
    RUNNER_SESSIONS,
    EventRecorder,
    Informer,
    KubeClient,
    KubeConnection,
    load_connection,
)
from controller.metrics import DISPATCHES_OVERDUE, STORE_UP
from controller.operator.error_boundary import ErrorBoundary
from controller.operator.housekeeping import Housekeeper
from controller.operator.leadership import LeaderElector, LeaseTiming
from controller.operator.periodic import every
from controller.operator.reaper.sweeper import Reaper, ticket_lookup
from controller.operator.reviews.feedback import ReviewProcessor
from controller.operator.reviews.outcomes import review_failure_reporter, ticket_closer
from controller.operator.reviews.workflow_templates import TemplateStatusRefresher
from controller.operator.runs.announce import run_announcer
from controller.operator.runs.reconciler import (
    Checkpoint,
    DispatchReconciler,
    no_checkpoint,
)
from controller.operator.runs.rules import overdue_count
from controller.operator.runs.services import fly_sessions_in_force, open_run_services, team_secrets_reader
from controller.operator.runs.ticket_updates import (
    ticket_updaters,
)
from controller.operator.sessions.census import SessionCensus
from controller.operator.sessions.reconciler import SYNC_INTERVAL, SessionReconciler
from controller.operator.sessions.resets import SessionResetter
from controller.operator.tickets.dispatching import Dispatcher
from controller.operator.tickets.mapping_reconciler import MappingReconciler
from controller.operator.tickets.mappings import MappingDirectory
from controller.operator.tickets.polling import MappingStatusWriter, ProviderPoller, WakeupProcessor
from controller.operator.wakeups import Wakeups
from controller.store import RunnerModeReader, Store, database_url_from_settings, upgrade_database
from controller.ticketing.clients import open_ticketing_clients
from controller.ticketing.model import Provider, TicketSource
from controller.workflows import TEMPLATE_VERSION, WorkflowSync

logger = logging.getLogger("controller.operator")


LEASE_NAME = "ai-implement-operator"


@dataclass
class OperatorRuntime:
    """The operator's open resources; `lead()` is what the active replica does."""

    settings: Settings
    store: Store
    kube: KubeClient
    namespace: str
    mappings: Informer
    mapping_directory: MappingDirectory
    """The one index of the mappings every lookup uses."""
    dispatches: Informer
    sessions: Informer
    sources: dict[Provider, TicketSource]
    dispatcher: Dispatcher
    statuses: MappingStatusWriter
    elector: LeaderElector
    clock: Clock
    mapping_reconciler: MappingReconciler
    runs: DispatchReconciler
    session_reconciler: SessionReconciler
    session_sync_interval: timedelta
    dispatch_stop_seconds: float
    """How long a Dispatch's daemon may take to finish its step when the term ends, before it is cancelled
    (by default half the Lease's handover margin: a term always stops before another may begin)."""
    dispatch_wakeups: Wakeups
    """Pokes the daemon following a Dispatch (kopf's event handler does, on every change)."""
    events: EventRecorder
    errors: ErrorBoundary
    reviews: ReviewProcessor
    templates: TemplateStatusRefresher
    census: SessionCensus
    reaper: Reaper
    resetter: SessionResetter

    def pollers(self) -> list[ProviderPoller]:
        interval = self.settings.poll_interval.total_seconds()
        return [
            ProviderPoller(source, self.dispatcher, self.mapping_directory, self.store, self.statuses, interval)
            for source in self.sources.values()
        ]

    def wakeups(self) -> WakeupProcessor:
        return WakeupProcessor(
            self.sources, self.dispatcher, self.mapping_directory, self.store, self.settings.ai_implement_label
        )

    async def refresh_mapping_statuses(self) -> int:
        """Every mapping's own status once (another mapping's conflict or a stored runner mode may have
        changed it); how many were written. Errors go through the same boundary as kopf's handlers."""
        written = 0
        for body in self.mappings.items():
            with contextlib.suppress(kopf.TemporaryError, kopf.PermanentError):  # the next refresh, or never
                written += await self.errors.guard(
                    PROJECT_MAPPINGS, body, functools.partial(self.mapping_reconciler.reconcile, body)
                )
        return written

    async def lead(self) -> None:
        """The leader's periodic work beside kopf's handlers: polls, webhooks, reviews, census, reaper."""
        if not (await self.mappings.wait_synced(30) and await self.dispatches.wait_synced(30)):
            raise RuntimeError("the ProjectMapping and Dispatch caches did not sync within 30 s; stepping down")
        async with asyncio.TaskGroup() as group:
            for poller in self.pollers():
                group.create_task(poller.run(), name=f"poll:{poller.source.provider}")
            group.create_task(self.wakeups().run(), name="webhook-wakeups")
            group.create_task(Housekeeper(self.store, self.clock).run(), name="housekeeping")
            group.create_task(self.reviews.run(), name="review-feedback")
            group.create_task(self.templates.run(), name="workflow-templates")
            group.create_task(self.census.run(self.reaper.backends.configured()), name="session-census")
            group.create_task(self.reaper.run(), name="reaper")
            group.create_task(self.resetter.run(), name="session-resets")
            group.create_task(
                every(self.settings.poll_interval.total_seconds(), self.refresh_mapping_statuses, "mapping status"),
                name="mapping-status",
            )
            group.create_task(every(HEALTH_METRICS_SECONDS, self.report_health, "health metrics"), name="health")

    async def report_health(self) -> None:
        """What on-call is paged by and only the leader can see: the store's reach, runs nobody stopped."""
        STORE_UP.set(1 if await self.store.is_reachable() else 0)
        deadlines = self.dispatches.project(_phase_and_deadline)
        DISPATCHES_OVERDUE.set(overdue_count(deadlines, self.clock()))


HEALTH_METRICS_SECONDS = 30.0


def _phase_and_deadline(dispatch: Mapping[str, Any]) -> tuple[str | None, str | None]:
    status = dispatch.get("status") or {}
    return status.get("phase"), status.get("deadlineAt")


EVENT_COMPONENT = "ai-implement-operator"
"""The `source` of the Events the operator posts, as `kubectl describe` shows it."""


def replica_identity() -> str:
    """Unique per process, readable in `kubectl get lease`: the pod (host) name and a random suffix."""
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"


@asynccontextmanager
async def open_operator_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    lease_timing: LeaseTiming | None = None,
    connection: KubeConnection | None = None,
    checkpoint: Checkpoint = no_checkpoint,
    session_sync_interval: timedelta = SYNC_INTERVAL,
    dispatch_stop_seconds: float | None = None,
) -> AsyncIterator[OperatorRuntime]:
    """Open every dependency in order; the caller runs `runtime.elector.run(runtime.lead)`."""
    url = database_url_from_settings(settings)
    await upgrade_database(url)
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(Store.from_url(url))
        namespace = resolve_namespace(settings, read_service_account_namespace())
        kube = await stack.enter_async_context(KubeClient(connection or load_connection()))
        mappings = await stack.enter_async_context(Informer(kube, PROJECT_MAPPINGS, namespace))
        directory = MappingDirectory(mappings)
        dispatches = await stack.enter_async_context(Informer(kube, DISPATCHES, namespace))
        sessions = await stack.enter_async_context(Informer(kube, RUNNER_SESSIONS, namespace))
        identity = replica_identity()
        events = EventRecorder(kube, component=EVENT_COMPONENT, instance=identity)
        dispatcher = Dispatcher(
            settings=settings, store=store, kube=kube, dispatches=dispatches, clock=clock, events=events
        )
        ticketing = await open_ticketing_clients(settings, stack)
        fly_app, fly_region = await fly_sessions_in_force(settings, store)
        services = await open_run_services(settings, stack, fly_app=fly_app, fly_region=fly_region)
        runs = DispatchReconciler(
            settings=settings,
            store=store,
            kube=kube,
            namespace=namespace,
            mappings=directory,
            tickets=ticket_updaters(ticketing.linear, ticketing.jira),
            backends=services.backends,
            clock=clock,
            fly_region=fly_region,
            events=events,
            read_image_override=services.read_image_override,
            read_team_secrets=team_secrets_reader(kube, namespace, directory),
            run_ended=run_announcer(services.notifier, settings.client_slug),
            checkpoint=checkpoint,
        )
        census = SessionCensus(settings, store, kube, namespace, dispatches, sessions, mappings, clock)
        timing = lease_timing or LeaseTiming.of(settings.leader_lease_seconds)
        yield OperatorRuntime(
            settings=settings,
            store=store,
            kube=kube,
            namespace=namespace,
            mappings=mappings,
            mapping_directory=directory,
            dispatches=dispatches,
            sessions=sessions,
            sources=ticketing.sources(),
            dispatcher=dispatcher,
            statuses=MappingStatusWriter(kube, mappings),
            mapping_reconciler=MappingReconciler(
                settings, RunnerModeReader(store, settings), kube, directory, clock, events
            ),
            elector=LeaderElector(
                kube,
                namespace,
                LEASE_NAME,
                identity,
                timing=timing,
            ),
            clock=clock,
            runs=runs,
            session_reconciler=SessionReconciler(kube, namespace, services.backends, clock),
            session_sync_interval=session_sync_interval,
            dispatch_stop_seconds=dispatch_stop_seconds or timing.handover_margin / 2,
            dispatch_wakeups=Wakeups(),
            events=events,
            errors=ErrorBoundary(kube, namespace, events, clock),
            reviews=ReviewProcessor(
                settings,
                store,
                kube,
                directory,
                clock,
                review_failed=review_failure_reporter(services.notifier, settings.client_slug, runs.tickets),
                pull_request_closed=ticket_closer(runs.tickets),
            ),
            census=census,
            reaper=Reaper(
                settings=settings,
                store=store,
                census=census,
                backends=services.backends,
                look_up_ticket=ticket_lookup(ticketing.sources()),
                notifier=services.notifier,
                clock=clock,
                events=events,
            ),
            resetter=SessionResetter(
                store=store,
                kube=kube,
                namespace=namespace,
                backends=services.backends,
                census=census,
                tickets=runs.tickets,
                clock=clock,
            ),
            templates=TemplateStatusRefresher(
                kube,
                namespace,
                mappings,
                directory,
                store,
                WorkflowSync(services.github, session_image=settings.session_image, clock=clock)
                if services.github is not None
                else None,
                clock,
                TEMPLATE_VERSION,
                session_image=settings.session_image,
            ),
        )
