"""The reaper: one sweep every REAPER_INTERVAL_SECONDS over every backend, destroying what no run needs.

A sweep lists each backend (a census), joins every live resource with its RunnerSession, Dispatch,
mapping and ticket, and asks `reaper.rules.judge`. What it reads can fail piecewise: a backend that
cannot be listed is skipped (the others are swept), a ticket that cannot be read counts as unknown
(no rule relies on it), and a destroy that fails is recorded as `failed`. Nothing of that can make a
resource look unowned: owners are listed from the API server at each sweep (a watch cache can be
stale), and a sweep that cannot list them judges nothing. Every action is recorded; in a dry run
nothing is destroyed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.clock import Clock
from controller.config import Settings
from controller.kube import DISPATCHES, EventRecorder, EventType
from controller.metrics import REAPER_ACTIONS, REAPER_LAST_SWEEP, REAPER_SWEEP_SECONDS, REAPER_SWEEPS
from controller.notify import Notification, NotificationKind, Notifier, NotifyOutcome, ReaperAlert, notify_safely
from controller.operator.periodic import every
from controller.operator.reaper.rules import OwnerFacts, ResourceFacts, TicketState, Verdict, judge, protection
from controller.operator.sessions.census import Claim, Ownership, SessionCensus, TicketOf
from controller.resources.dispatch import is_terminal
from controller.runners.backend import METADATA_TENANT, BackendName, RunHandle
from controller.runners.registry import Backends
from controller.store import ReaperAction, ReaperBackend, ReaperOutcome, Store
from controller.ticketing.model import Provider, Ticket, TicketSource

logger = logging.getLogger("controller.operator.reaper.sweeper")

ALERT_WINDOW = timedelta(hours=24)

TicketLookup = Callable[[str, str], Awaitable[Ticket | None]]
"""One ticket by provider and id or key, fetched fresh; None when it does not exist."""

_RECORDED_BACKEND: dict[BackendName, ReaperBackend] = {
    "fly-machines": "fly",
    "github-actions": "github-actions",
    "local": "local",
}


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did: its actions, the backends it could not list, and why it judged nothing."""

    actions: list[ReaperAction] = field(default_factory=list)
    backend_errors: dict[BackendName, str] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Reaper:
    settings: Settings
    store: Store
    census: SessionCensus
    backends: Backends
    look_up_ticket: TicketLookup | None
    notifier: Notifier
    clock: Clock
    events: EventRecorder

    @property
    def grace(self) -> timedelta:
        return timedelta(minutes=self.settings.reaper_grace_minutes)

    @property
    def dry_run(self) -> bool:
        return self.settings.reaper_dry_run

    async def run(self) -> None:
        """Sweep every REAPER_INTERVAL_SECONDS until cancelled (leadership lost)."""
        await every(
            self.settings.reaper_interval_seconds,
            self.sweep,
            "the reaper's sweep",
            failed=REAPER_SWEEPS.labels("error").inc,
        )

    async def sweep(self) -> SweepReport:
        started_at, began = self.clock(), time.monotonic()
        report = await self._sweep()
        finished_at = self.clock()
        error = report.error or _backend_problem(report.backend_errors)
        await self.store.record_reaper_sweep(
            started_at=started_at, finished_at=finished_at, dry_run=self.dry_run, error=error
        )
        REAPER_SWEEP_SECONDS.observe(time.monotonic() - began)
        REAPER_SWEEPS.labels("error" if report.error else "partial" if report.backend_errors else "ok").inc()
        REAPER_LAST_SWEEP.set(finished_at.timestamp())
        return report

    async def _sweep(self) -> SweepReport:
        listing = await self.census.take(self.backends.configured())
        try:
            ownership = await self.census.fresh_ownership()
        except Exception as error:
            message = f"the Dispatches and RunnerSessions could not be listed ({error}): nothing was judged"
            logger.error("reaper: %s", message)
            return SweepReport(error=message, backend_errors=dict(listing.errors))
        first_seen = {(row.backend, row.resource_id): row.first_seen_at for row in await self.store.live_sessions()}
        tickets: dict[tuple[str, str], TicketState] = {}
        actions: list[ReaperAction] = []
        for backend_name, handles in listing.live.items():
            for handle in handles:
                seen = first_seen.get((backend_name, handle.id))
                try:
                    action = await self._judge_one(handle, ownership, tickets, seen)
                except Exception:  # one resource's trouble (the store, say) must not spare the others
                    logger.exception("reaper could not judge %s %s", handle.backend, handle.id)
                    continue
                if action is not None:
                    actions.append(action)
        await self._alert_if_runaway()
        return SweepReport(actions=actions, backend_errors=dict(listing.errors))

    async def _judge_one(
        self,
        handle: RunHandle,
        ownership: Ownership,
        tickets: dict[tuple[str, str], TicketState],
        first_seen: datetime | None,
    ) -> ReaperAction | None:
        now = self.clock()
        claim = ownership.claim(handle)
        facts = resource_facts(handle, claim, ownership, first_seen)
        if protection(facts, now) is None:
            ticket = ownership.ticket_of(handle, claim)
            state = await self._ticket_state(ticket, tickets)
            facts = ResourceFacts(
                created_at=facts.created_at,
                foreign=facts.foreign,
                has_session=facts.has_session,
                owner=facts.owner,
                ticket=state,
                max_job_minutes=facts.max_job_minutes,
            )
        verdict = judge(facts, now, self.grace)
        if not verdict.destroys:
            logger.debug("reaper keeps %s %s: %s", handle.backend, handle.id, verdict.reason)
            return None
        return await self._act(handle, claim, ownership, facts, verdict)

    async def _ticket_state(self, ticket: TicketOf | None, cache: dict[tuple[str, str], TicketState]) -> TicketState:
        """Asked once per ticket and sweep; any failure or doubt is UNKNOWN, which no rule acts on."""
        if ticket is None or ticket.provider is None or self.look_up_ticket is None:
            return TicketState.UNKNOWN
        key = (ticket.provider, ticket.id or ticket.identifier)
        if key not in cache:
            try:
                found = await self.look_up_ticket(*key)
            except Exception as error:
                logger.warning("reaper could not read ticket %s: %s", ticket.identifier, error)
                found = None
                cache[key] = TicketState.UNKNOWN
            else:
                cache[key] = _ticket_state(found)
        return cache[key]

    async def _act(
        self, handle: RunHandle, claim: Claim, ownership: Ownership, facts: ResourceFacts, verdict: Verdict
    ) -> ReaperAction:
        assert verdict.rule is not None
        now = self.clock()
        created = facts.created_at
        age_seconds = int((now - created).total_seconds()) if created is not None else 0
        ticket = ownership.ticket_of(handle, claim)
        outcome: ReaperOutcome = "dry-run"
        message = verdict.reason
        if not self.dry_run:
            try:
                await self.backends.backend(handle.backend).destroy(handle.id)
            except Exception as error:  # recorded as failed; the next sweep tries again
                outcome, message = "failed", f"{verdict.reason}; destroying failed: {error}"
                logger.error("reaper could not destroy %s %s: %s", handle.backend, handle.id, error)
            else:
                outcome = "destroyed"
                await self.store.forget_live_session(handle.backend, handle.id)
        logger.warning(
            "reaper %s %s %s (%s): %s",
            "would destroy" if self.dry_run else outcome,
            handle.backend,
            handle.id,
            verdict.rule,
            message,
            extra={"rule": verdict.rule, "resource": handle.id, "dry_run": self.dry_run},
        )
        REAPER_ACTIONS.labels(verdict.rule, outcome).inc()
        if claim.dispatch is not None:
            done = {"destroyed": "destroyed", "failed": "could not destroy", "dry-run": "would destroy (dry run)"}
            await self.events.record(
                DISPATCHES,
                claim.dispatch,
                EventType.WARNING,
                "Reaped",
                f"the reaper {done[outcome]} {handle.backend} {handle.id} ({verdict.rule}): {message}",
                now,
            )
        return await self.store.record_reaper_action(
            at=now,
            rule=verdict.rule,
            backend=_RECORDED_BACKEND[handle.backend],
            resource_id=handle.id,
            age_seconds=max(age_seconds, 0),
            dry_run=self.dry_run,
            outcome=outcome,
            tenant=handle.metadata.get(METADATA_TENANT) or self.settings.client_slug,
            issue_identifier=ticket.identifier if ticket else None,
            message=message,
        )

    async def _alert_if_runaway(self) -> None:
        """One alert when destructions in 24 h pass the threshold, then none until a day after it."""
        threshold = self.settings.reaper_alert_threshold
        if threshold is None:
            return
        now = self.clock()
        counts = await self.store.reaper_counts_since(now - ALERT_WINDOW)
        destroyed = counts.by_outcome["destroyed"]
        if destroyed <= threshold:
            return
        last = await self.store.last_reaper_alert_at()
        if last is not None and now - last < ALERT_WINDOW:
            return
        notification = Notification(
            kind=NotificationKind.REAPER_ALERT,
            reaper=ReaperAlert(count=destroyed, threshold=threshold, window=ALERT_WINDOW),
            tenant=self.settings.client_slug,
        )
        result = await notify_safely(self.notifier, notification, logger)
        if result.outcome is NotifyOutcome.FAILED:
            return  # the next sweep tries again
        await self.store.record_reaper_alert(at=now, count=destroyed, threshold=threshold)
        logger.warning("reaper alert: %s destructions in 24 h, above the threshold of %s", destroyed, threshold)


def resource_facts(handle: RunHandle, claim: Claim, ownership: Ownership, first_seen: datetime | None) -> ResourceFacts:
    """What the rules read about one resource, before its ticket is asked about."""
    mapping = ownership.mapping(ownership.team_of(handle, claim))
    return ResourceFacts(
        created_at=handle.created_at or first_seen,
        foreign=claim.foreign,
        has_session=claim.session is not None,
        owner=_owner(claim),
        max_job_minutes=mapping.capacity.max_job_minutes if mapping is not None else None,
    )


def _owner(claim: Claim) -> OwnerFacts | None:
    if claim.dispatch is None or claim.dispatch_name is None:
        return None
    status = claim.dispatch.get("status") or {}
    return OwnerFacts(
        name=claim.dispatch_name,
        terminal=is_terminal(status.get("phase")),
        finished_at=_time(status.get("finishedAt")),
        deadline_at=_time(status.get("deadlineAt")),
        shadow=claim.shadow,
    )


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _ticket_state(ticket: Ticket | None) -> TicketState:
    if ticket is None:
        return TicketState.UNKNOWN
    return TicketState.TERMINAL if ticket.state.is_terminal else TicketState.OPEN


def _backend_problem(errors: dict[BackendName, str]) -> str | None:
    if not errors:
        return None
    return "; ".join(f"{backend} could not be listed: {message}" for backend, message in sorted(errors.items()))


def ticket_lookup(sources: Mapping[Provider, TicketSource]) -> TicketLookup:
    """The reaper's question about one ticket, asked of the provider that owns it."""

    async def look_up(provider: str, key: str) -> Ticket | None:
        source = sources.get(provider)  # type: ignore[call-overload]
        return await source.ticket(key) if source is not None else None

    return look_up
