"""The two loops of the active replica: one poller per ticketing provider, and the webhook wakeups.

A poll is one logical query for all mappings of its provider; a failing provider is logged,
counted and retried next cycle, and never stops the other provider's loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller import constants
from controller.httpclient import ServiceError
from controller.kube import PROJECT_MAPPINGS, Informer, KubeClient, KubeError
from controller.metrics import CAPACITY, IN_PROGRESS, LAST_POLL, POLL_SECONDS, POLLS, keep_team_gauges
from controller.operator.periodic import Sleep, every
from controller.operator.tickets.dispatching import Dispatcher, PassReport, snapshot_rows
from controller.operator.tickets.mappings import IndexedMapping, MappingDirectory, MappingIndex
from controller.store import Store
from controller.ticketing.model import Provider, Ticket, TicketSource

logger = logging.getLogger("controller.operator.tickets.polling")


STATUS_WRITERS = 8
"""Mapping status PATCHes in flight at once: a change that touches many mappings is not written one by one."""


@dataclass
class MappingStatusWriter:
    """Writes the counts a pass learned (`inProgress`, `blocked`) of each mapping whose counts changed.

    The poller owns these two fields and nothing else of a mapping's status (its conditions are the
    mapping reconciler's). A poll with nothing new makes no API-server write, however many mappings.
    """

    kube: KubeClient
    mappings: Informer

    async def write(self, index: MappingIndex, provider: Provider, report: PassReport, dispatcher: Dispatcher) -> None:
        changed: list[tuple[IndexedMapping, dict[str, Any]]] = []
        active, blocked = dispatcher.active_counts(), report.blocked_by_team()
        for mapping in index.mappings_of(provider):
            team = mapping.spec.team_key
            in_progress = report.in_progress.get(team, active.get(team, 0))
            IN_PROGRESS.labels(team).set(in_progress)
            CAPACITY.labels(team).set(mapping.spec.capacity.max_in_progress_ai_issues)
            current = (self.mappings.get(mapping.name, mapping.namespace) or {}).get("status") or {}
            counts = {"inProgress": in_progress, "blocked": blocked.get(team, 0)}
            if any(current.get(key) != value for key, value in counts.items()):
                changed.append((mapping, counts))
        keep_team_gauges(index.team_keys())
        limit = asyncio.Semaphore(STATUS_WRITERS)
        await asyncio.gather(*(self._patch(mapping, counts, limit) for mapping, counts in changed))

    async def _patch(self, mapping: IndexedMapping, counts: dict[str, Any], limit: asyncio.Semaphore) -> None:
        async with limit:
            try:
                await self.kube.merge_patch(
                    PROJECT_MAPPINGS,
                    mapping.namespace,
                    mapping.name,
                    {"status": counts},
                    subresource="status",
                    field_manager=constants.FIELD_MANAGER_POLLER,
                )
            except KubeError as error:
                logger.warning(
                    "could not update the counts of %s: %s", mapping.name, error, extra={"team": mapping.spec.team_key}
                )


@dataclass
class ProviderPoller:
    """Polls one provider every interval for the tickets of all its mappings."""

    source: TicketSource
    dispatcher: Dispatcher
    mappings: MappingDirectory
    store: Store
    statuses: MappingStatusWriter
    interval: float
    sleep: Sleep = asyncio.sleep

    async def poll_once(self) -> PassReport | None:
        """One poll; None when the provider failed (logged and counted) or has no mappings."""
        provider = self.source.provider
        index = self.mappings.index()
        scopes = index.scopes(provider)
        if not scopes:
            keep_team_gauges(index.team_keys())  # the provider's last mapping may just have gone
            await self.store.replace_issue_snapshot(provider, [])
            return None
        started = time.perf_counter()
        try:
            tickets = await self.source.fetch_ai_tickets(scopes)
            report = await self.dispatcher.decide_and_dispatch(tickets, index)
            await self.store.replace_issue_snapshot(provider, snapshot_rows(report))
            await self.statuses.write(index, provider, report, self.dispatcher)
        except (ServiceError, KubeError) as error:
            POLLS.labels(provider, "error").inc()
            logger.error("polling %s failed: %s", provider, error, extra={"provider": provider})
            return None
        POLLS.labels(provider, "ok").inc()
        POLL_SECONDS.labels(provider).observe(time.perf_counter() - started)
        LAST_POLL.labels(provider).set(self.dispatcher.clock().timestamp())
        logger.info(
            "polled %s: %d tickets, %d dispatched",
            provider,
            len(report.outcomes),
            len(report.dispatched()),
            extra={"provider": provider},
        )
        return report

    async def run(self) -> None:
        """Poll until cancelled; nothing a poll raises stops the loop."""
        await every(
            self.interval,
            self.poll_once,
            f"polling {self.source.provider}",
            sleep=self.sleep,
            failed=POLLS.labels(self.source.provider, "error").inc,
        )


@dataclass
class WakeupProcessor:
    """Decides at once about tickets that webhooks announced, instead of waiting for the next poll."""

    sources: Mapping[Provider, TicketSource]
    dispatcher: Dispatcher
    mappings: MappingDirectory
    store: Store
    ai_label: str
    interval: float = 0.25
    """Seconds between looks at the store: a webhook's ticket is decided on well within a second."""
    sleep: Sleep = asyncio.sleep
    handled: int = field(default=0)

    async def process_pending(self) -> int:
        """Handle every waiting wakeup once; returns how many were handled."""
        count = 0
        for wakeup in await self.store.pending_ticket_wakeups():
            source = self.sources.get(wakeup.provider)
            try:
                index = self.mappings.index()
                scopes = index.scopes(wakeup.provider)
                ticket = await source.ticket(wakeup.ticket_ref, scopes) if source is not None else None
                if ticket is not None and self._carries_ai_label(ticket) and index.route(ticket) is not None:
                    report = await self.dispatcher.decide_and_dispatch([ticket], index)
                    for row in snapshot_rows(report):
                        await self.store.upsert_issue_snapshot(row)
            except (ServiceError, KubeError) as error:
                logger.warning(
                    "could not act on the webhook for %s: %s; the next poll will",
                    wakeup.ticket_ref,
                    error,
                    extra={"provider": wakeup.provider, "issue": wakeup.ticket_ref},
                )
            await self.store.clear_ticket_wakeup(wakeup)
            count += 1
        self.handled += count
        return count

    def _carries_ai_label(self, ticket: Ticket) -> bool:
        """What the poll's label filter does: a label removed after the webhook means no dispatch."""
        return self.ai_label.casefold() in {label.casefold() for label in ticket.labels}

    async def run(self) -> None:
        await every(self.interval, self.process_pending, "handling webhook wakeups", sleep=self.sleep)
