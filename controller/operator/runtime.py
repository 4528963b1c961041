"""Everything the operator process holds open: store, Kubernetes client, caches, clients and loops.

Opened once at start and closed in reverse order at the end; the loops of the active replica
run only while the Lease is held.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from controller import constants
from controller.clock import Clock, utc_now
from controller.config import SecretsBackend, Settings
from controller.config.overrides import read_service_account_namespace, resolve_namespace, resolve_restart_bound_setting
from controller.httpclient import ServiceError
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
from controller.notify import DispatchRef, Notification, NotificationKind, TicketRef, notify_safely
from controller.operator.census import SessionCensus
from controller.operator.dispatching import Dispatcher
from controller.operator.leadership import LeaderElector, LeaseTiming
from controller.operator.mapping_reconciler import MappingReconciler
from controller.operator.periodic import every
from controller.operator.polling import Housekeeper, MappingStatusWriter, ProviderPoller, WakeupProcessor
from controller.operator.reaper import Reaper, TicketLookup
from controller.operator.reviews import ReviewProcessor
from controller.operator.run_messages import notification_kind
from controller.operator.run_services import RunServices, open_run_services
from controller.operator.runs import Checkpoint, DispatchReconciler, EndedRun, TeamSecretsReader, no_checkpoint
from controller.operator.session_resets import SessionResetter
from controller.operator.sessions import SYNC_INTERVAL, SessionReconciler
from controller.operator.templates import TemplateStatusRefresher
from controller.operator.tickets import JiraTickets, LinearTickets, TicketCannotMove, TicketGone, TicketUpdater
from controller.operator.wakeups import Wakeups
from controller.resources.dispatch import IssueRef
from controller.secrets import KubernetesSecretBackend, runner_environment
from controller.store import Store, TrackedPullRequest, database_url_from_settings, upgrade_database
from controller.ticketing.clients import open_ticketing_clients
from controller.ticketing.jira import JiraClient
from controller.ticketing.linear import LinearClient
from controller.ticketing.model import Provider, Ticket, TicketSource
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
    dispatch_wakeups: Wakeups
    """Pokes the daemon following a Dispatch (kopf's event handler does, on every change)."""
    events: EventRecorder
    reviews: ReviewProcessor
    templates: TemplateStatusRefresher
    census: SessionCensus
    reaper: Reaper
    resetter: SessionResetter

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
                every(
                    self.settings.poll_interval.total_seconds(), self.mapping_reconciler.reconcile_all, "mapping status"
                ),
                name="mapping-status",
            )


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
        sessions = await stack.enter_async_context(Informer(kube, RUNNER_SESSIONS, namespace))
        identity = replica_identity()
        events = EventRecorder(kube, component=EVENT_COMPONENT, instance=identity)
        dispatcher = Dispatcher(
            settings=settings, store=store, kube=kube, dispatches=dispatches, clock=clock, events=events
        )
        ticketing = await open_ticketing_clients(settings, stack)
        fly_app, fly_region = await _fly_sessions_in_force(settings, store)
        services = await open_run_services(settings, stack, fly_app=fly_app, fly_region=fly_region)
        runs = DispatchReconciler(
            settings=settings,
            store=store,
            kube=kube,
            namespace=namespace,
            mappings=mappings,
            tickets=_ticket_updaters(ticketing.linear, ticketing.jira),
            backends=services.backends,
            clock=clock,
            fly_region=fly_region,
            events=events,
            read_image_override=services.read_image_override,
            read_team_secrets=_team_secrets_reader(settings, fly_app, kube, namespace, mappings),
            run_ended=_announcer(services, settings),
            checkpoint=checkpoint,
        )
        census = SessionCensus(settings, store, kube, namespace, dispatches, sessions, mappings, clock)
        yield OperatorRuntime(
            settings=settings,
            store=store,
            kube=kube,
            namespace=namespace,
            mappings=mappings,
            dispatches=dispatches,
            sessions=sessions,
            sources=ticketing.sources(),
            dispatcher=dispatcher,
            statuses=MappingStatusWriter(kube, mappings),
            mapping_reconciler=MappingReconciler(settings, store, kube, mappings, clock, events),
            elector=LeaderElector(
                kube,
                namespace,
                LEASE_NAME,
                identity,
                timing=lease_timing or LeaseTiming.of(settings.leader_lease_seconds),
            ),
            clock=clock,
            runs=runs,
            session_reconciler=SessionReconciler(kube, namespace, services.backends, clock),
            session_sync_interval=session_sync_interval,
            dispatch_wakeups=Wakeups(),
            events=events,
            reviews=ReviewProcessor(
                settings,
                store,
                kube,
                mappings,
                clock,
                review_failed=_review_failure_reporter(services, settings, runs.tickets),
                pull_request_closed=_ticket_closer(runs.tickets),
            ),
            census=census,
            reaper=Reaper(
                settings=settings,
                store=store,
                census=census,
                backends=services.backends,
                look_up_ticket=_ticket_lookup(ticketing.sources()),
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
                WorkflowSync(services.github, session_image=settings.session_image, clock=clock)
                if services.github is not None
                else None,
                clock,
                TEMPLATE_VERSION,
            ),
        )


def _ticket_lookup(sources: Mapping[Provider, TicketSource]) -> TicketLookup:
    """The reaper's question about one ticket, asked of the provider that owns it."""

    async def look_up(provider: str, key: str) -> Ticket | None:
        source = sources.get(provider)  # type: ignore[call-overload]
        return await source.ticket(key) if source is not None else None

    return look_up


def _ticket_closer(tickets: Mapping[str, TicketUpdater]) -> Callable[[TrackedPullRequest], Awaitable[None]]:
    """Merged: the ticket completes. Closed unmerged: its marker comes off. Both get a comment, once."""

    async def close(pull: TrackedPullRequest) -> None:
        updater = tickets.get(pull.provider)
        if updater is None:
            return
        issue = IssueRef(
            provider=pull.provider, id=pull.issue_id, identifier=pull.identifier, title=pull.title, url=pull.issue_url
        )
        try:
            if pull.state == "merged":
                text = f"The pull request {pull.url} was merged: AI-Implement's work on this ticket is done."
                try:
                    await updater.complete(issue)
                except TicketCannotMove as error:
                    text += f" {error}."
            else:
                await updater.release(issue, None)
                text = (
                    f"The pull request {pull.url} was closed without merging: AI-Implement stopped working on it. "
                    "Move the ticket back to where it belongs if it is still in progress."
                )
            await updater.comment(issue, text, f"{pull.repo}#{pull.number}:{pull.state}")
        except (TicketGone, TicketCannotMove, ServiceError) as error:
            if isinstance(error, ServiceError) and error.temporary:
                raise
            logger.warning("the ticket of %s#%s could not be updated: %s", pull.repo, pull.number, error)

    return close


def _review_failure_reporter(
    services: RunServices, settings: Settings, tickets: Mapping[str, TicketUpdater]
) -> Callable[[TrackedPullRequest, str], Awaitable[None]]:
    """A comment on the ticket and a chat message when a pull request runs out of review iterations."""

    async def report(pull: TrackedPullRequest, reason: str) -> None:
        issue = IssueRef(
            provider=pull.provider, id=pull.issue_id, identifier=pull.identifier, title=pull.title, url=pull.issue_url
        )
        text = f"AI-Implement stopped iterating on {pull.url}: {reason}. A person needs to take the review from here."
        updater = tickets.get(pull.provider)
        if updater is not None:
            await updater.comment(issue, text, f"{pull.repo}#{pull.number}:review-failed")
        notification = Notification(
            kind=NotificationKind.REVIEW_FAILED,
            dispatch=DispatchRef(
                name=pull.last_dispatch_name or f"{pull.repo}#{pull.number}",
                kind="review",
                iteration=pull.iteration,
                repo=pull.repo,
                ticket=TicketRef(identifier=pull.identifier, title=pull.title, url=pull.issue_url),
                pr_url=pull.url,
            ),
            error_reason="ReviewIterationsExhausted",
            error_message=reason,
            tenant=settings.client_slug,
        )
        await notify_safely(services.notifier, notification, logger)

    return report


def _team_secrets_reader(
    settings: Settings, fly_app: str | None, kube: KubeClient, namespace: str, mappings: Informer
) -> TeamSecretsReader | None:
    """Runner secrets kept in the Kubernetes Secret, for local runs; Fly app secrets reach machines by themselves."""
    if settings.effective_secrets_backend(fly_app) is not SecretsBackend.KUBERNETES:
        return None
    backend = KubernetesSecretBackend(kube, namespace)

    async def read(team_key: str) -> Mapping[str, str]:
        team_keys = [str((item.get("spec") or {}).get("teamKey")) for item in mappings.items()]
        return runner_environment(await backend.values(), team_key, team_keys)

    return read


def _ticket_updaters(linear: LinearClient | None, jira: JiraClient | None) -> dict[str, TicketUpdater]:
    updaters: dict[str, TicketUpdater] = {}
    if linear is not None:
        updaters["linear"] = LinearTickets(linear)
    if jira is not None:
        updaters["jira"] = JiraTickets(jira)
    return updaters


async def _fly_sessions_in_force(settings: Settings, store: Store) -> tuple[str | None, str]:
    """FLY_SESSIONS_APP / _REGION when set, else what /api/settings stored before this process started."""
    stored_app = await store.get_setting(constants.SETTING_FLY_SESSIONS_APP)
    stored_region = await store.get_setting(constants.SETTING_FLY_SESSIONS_REGION)
    app = resolve_restart_bound_setting(
        environment=settings.fly_sessions_app,
        stored_at_start=str(stored_app.value) if stored_app is not None else None,
        stored_now=None,
        default=None,
    ).runtime
    region = resolve_restart_bound_setting(
        environment=settings.fly_sessions_region if settings.explicitly_set("FLY_SESSIONS_REGION") else None,
        stored_at_start=str(stored_region.value) if stored_region is not None else None,
        stored_now=None,
        default=settings.fly_sessions_region,
    ).runtime
    return app, region or settings.fly_sessions_region


def _announcer(services: RunServices, settings: Settings) -> Callable[[EndedRun], Awaitable[None]]:
    async def announce(ended: EndedRun) -> None:
        issue = ended.spec.issue
        notification = Notification(
            kind=NotificationKind(notification_kind(ended.phase)),
            dispatch=DispatchRef(
                name=ended.dispatch_name,
                kind=ended.spec.kind,
                iteration=ended.spec.iteration,
                repo=ended.repo,
                ticket=TicketRef(identifier=issue.identifier, title=issue.title, url=issue.url),
                pr_url=ended.pull_request_url,
                duration=ended.duration,
            ),
            error_reason=ended.error_reason,
            error_message=ended.error_message,
            tenant=settings.client_slug,
        )
        await notify_safely(services.notifier, notification, logger)

    return announce
