"""Applying decisions: gather the facts, decide per ticket, create Dispatches, record what happened.

One pass handles the tickets of one provider (a poll) or one ticket (a webhook). Decisions about one
mapping are serialised by a lock, and the in-progress count includes what this process created but
the watch has not shown yet, so that a poll and a webhook deciding together cannot exceed a cap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller import constants
from controller.clock import Clock
from controller.config import Settings
from controller.config.overrides import ResolvedRunnerMode
from controller.kube import DISPATCHES, AlreadyExistsError, EventRecorder, EventType, Informer, KubeClient, KubeError
from controller.metrics import DECISIONS, DISPATCHES_CREATED
from controller.operator.tickets.decision import Decision, DispatchOrder, TicketHistory, Verdict, decide
from controller.operator.tickets.history import ticket_histories
from controller.operator.tickets.mappings import (
    IndexedMapping,
    MappingIndex,
    effective_runner_mode,
    mapping_missing_credentials,
)
from controller.resources import dispatch_name_for, is_terminal
from controller.resources.dispatch import label_value, log_status_of_phase, printable
from controller.store import DecisionReason as Reason
from controller.store import DispatchLogEntry, IssueSnapshot, Store, runner_mode_in_force
from controller.ticketing.model import Ticket

logger = logging.getLogger("controller.operator")

UNSEEN_CREATION_GRACE = 120.0
"""Seconds a Dispatch this process created still counts as in progress before the watch shows it."""


def _routed_once(tickets: Iterable[Ticket], index: MappingIndex) -> list[tuple[Ticket, IndexedMapping]]:
    """Each ticket with its mapping, once: a ticket whose field names two repos goes to the first mapping."""
    routed: dict[tuple[str, str], tuple[Ticket, IndexedMapping]] = {}
    for ticket in tickets:
        mapping = index.route(ticket)
        key = (ticket.provider, ticket.id)
        if mapping is None:
            continue
        if key in routed:
            logger.warning(
                "%s routes to both %s and %s; only %s gets it",
                ticket.identifier,
                routed[key][1].spec.team_key,
                mapping.spec.team_key,
                routed[key][1].spec.team_key,
                extra={"issue": ticket.identifier},
            )
            continue
        routed[key] = (ticket, mapping)
    return list(routed.values())


def build_dispatch(
    ticket: Ticket, mapping: IndexedMapping, order: DispatchOrder, runner_mode: str, session_image: str
) -> dict[str, Any]:
    """The Dispatch resource for a decision to dispatch; owned by its mapping, named deterministically."""
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.DISPATCH_KIND,
        "metadata": {
            "name": dispatch_name_for(ticket.identifier, order.kind, order.iteration),
            "namespace": mapping.namespace,
            "finalizers": [constants.FINALIZER],  # kopf's, set at birth: one write less per run
            "annotations": {constants.ANNOTATION_NEW_JOB: "true"} if order.starts_new_job else {},
            "labels": {
                constants.LABEL_TEAM: label_value(mapping.spec.team_key),
                constants.LABEL_ISSUE: label_value(ticket.identifier),
                constants.LABEL_KIND: order.kind,
            },
            "ownerReferences": [
                {
                    "apiVersion": constants.API_VERSION,
                    "kind": constants.PROJECT_MAPPING_KIND,
                    "name": mapping.name,
                    "uid": mapping.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "mapping": mapping.spec.team_key,
            "issue": {
                "provider": ticket.provider,
                "id": ticket.id,
                "identifier": ticket.identifier,
                "title": printable(ticket.title, 1024),
                "url": printable(ticket.url, 2048),
            },
            "kind": order.kind,
            "iteration": order.iteration,
            "runnerMode": runner_mode,
            "sessionImage": session_image,
        },
    }


def snapshot_rows(report: PassReport) -> list[IssueSnapshot]:
    """The inbox rows of a pass, as the Issues and Blockers panels show them."""
    return [
        IssueSnapshot(
            issue_id=o.ticket.id,
            identifier=o.ticket.identifier,
            title=o.ticket.title,
            url=o.ticket.url,
            team_key=o.mapping.spec.team_key,
            provider=o.ticket.provider,
            state=o.ticket.state.value,
            readiness=readiness_of(o.decision, o.history, o.mapping),
            blocked_reason=o.decision.reason_word if o.decision.verdict is Verdict.BLOCKED else None,
            message=o.decision.message,
            updated_at=o.ticket.updated_at,
        )
        for o in report.outcomes
    ]


def readiness_of(decision: Decision, history: TicketHistory, mapping: IndexedMapping) -> str:
    """The Issues panel's column: ready for implementation, planning still pending, or done.

    Whether the ticket is held back is a separate column (the blocked reason).
    """
    if decision.reason in (Reason.TERMINAL, Reason.IMPLEMENTED):
        return "done"
    if mapping.spec.planning.enabled and history.planning_succeeded_at is None:
        return "planning-pending"
    return "ready"


@dataclass(frozen=True)
class Outcome:
    """What one pass decided about one ticket."""

    ticket: Ticket
    mapping: IndexedMapping
    decision: Decision
    history: TicketHistory


@dataclass
class PassReport:
    """The result of one pass: every outcome, and the in-progress count per mapping afterwards."""

    outcomes: list[Outcome] = field(default_factory=list)
    in_progress: dict[str, int] = field(default_factory=dict)

    def blocked(self, team_key: str) -> int:
        return self.blocked_by_team().get(team_key, 0)

    def blocked_by_team(self) -> dict[str, int]:
        return dict(Counter(o.mapping.spec.team_key for o in self.outcomes if o.decision.verdict is Verdict.BLOCKED))

    def dispatched(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.decision.dispatches]


def _name_mapping_and_phase(dispatch: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """What counting a mapping's unfinished Dispatches needs of one, read without copying it."""
    phase = (dispatch.get("status") or {}).get("phase")
    return str(dispatch["metadata"]["name"]), str(dispatch["spec"].get("mapping")), phase


@dataclass
class Dispatcher:
    """Decides and dispatches; one per operator process, shared by the pollers and the webhook path."""

    settings: Settings
    store: Store
    kube: KubeClient
    dispatches: Informer
    clock: Clock
    events: EventRecorder
    monotonic: Any = time.monotonic
    _locks: dict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    _unseen: dict[str, tuple[str, float]] = field(default_factory=dict)
    _recording: set[str] = field(default_factory=set)
    """Dispatches created here whose dedup entry and log line are being written right now."""
    """Dispatches created here that the watch has not delivered yet: name → (team, when)."""

    async def decide_and_dispatch(self, tickets: Iterable[Ticket], index: MappingIndex) -> PassReport:
        """One pass over tickets of one provider: route, decide, dispatch, and record the inbox rows."""
        routed = _routed_once(tickets, index)
        now = self.clock()
        histories = await self._histories([ticket.id for ticket, _ in routed], now)
        runner_mode = await runner_mode_in_force(self.store, self.settings)
        by_team: dict[str, list[tuple[Ticket, IndexedMapping]]] = defaultdict(list)
        for ticket, mapping in sorted(routed, key=lambda pair: (pair[0].updated_at, pair[0].identifier)):
            by_team[mapping.spec.team_key].append((ticket, mapping))
        report = PassReport()
        for team_key, pairs in sorted(by_team.items()):
            async with self._locks[team_key]:
                active = self.active_dispatches(team_key)
                for ticket, mapping in pairs:
                    history = histories.get(ticket.id, TicketHistory())
                    decision = decide(
                        ticket,
                        mapping.spec,
                        history,
                        active_in_mapping=active,
                        missing_credentials=[
                            problem.message
                            for problem in mapping_missing_credentials(self.settings, mapping.spec, runner_mode.mode)
                        ],
                        now=now,
                    )
                    DECISIONS.labels(team_key, decision.verdict.value, decision.reason_word).inc()
                    order = decision.order
                    if order is not None and await self._dispatch(ticket, mapping, order, runner_mode, now):
                        active += 1
                    report.outcomes.append(Outcome(ticket, mapping, decision, history))
                report.in_progress[team_key] = active
        return report

    def active_dispatches(self, team_key: str) -> int:
        """Unfinished Dispatches of a mapping: those the watch shows, plus ours it has not shown yet."""
        return self.active_counts().get(team_key, 0)

    def active_counts(self) -> dict[str, int]:
        """Unfinished Dispatches of every mapping from one look at the cache (one copy of it, not one per mapping)."""
        facts = self.dispatches.project(_name_mapping_and_phase)
        seen = {name for name, _, _ in facts}
        now = self.monotonic()
        for name, (_, created_at) in list(self._unseen.items()):
            if name in seen or now - created_at > UNSEEN_CREATION_GRACE:
                del self._unseen[name]
        counts: Counter[str] = Counter(mapping for _, mapping, phase in facts if not is_terminal(phase))
        counts.update(team for team, _ in self._unseen.values())
        return dict(counts)

    async def _histories(self, issue_ids: list[str], now: datetime) -> dict[str, TicketHistory]:
        wanted = set(issue_ids)
        resources = [item for item in self.dispatches.items() if item["spec"]["issue"]["id"] in wanted]
        log = await self.store.dispatch_log_for_issues(wanted)
        if await self._repair_unlogged(resources, log):
            log = await self.store.dispatch_log_for_issues(wanted)
        dedup = {entry.issue_id: entry.dispatched_at for entry in await self.store.list_dedup_window(now)}
        return ticket_histories(resources, log, dedup)

    async def _repair_unlogged(self, resources: Sequence[Mapping[str, Any]], log: Iterable[DispatchLogEntry]) -> bool:
        """Repair a crash between creating a Dispatch and recording it: its log line, and its dedup entry.

        Dispatches this process is recording right now are left alone, so nothing is recorded twice.
        """
        logged = {entry.dispatch_name for entry in log}
        missing = [
            item
            for item in resources
            if item["metadata"]["name"] not in logged and item["metadata"]["name"] not in self._recording
        ]
        for item in missing:
            spec, metadata = item["spec"], item["metadata"]
            created = datetime.fromisoformat(metadata["creationTimestamp"].replace("Z", "+00:00"))
            issue = spec["issue"]
            if (metadata.get("annotations") or {}).get(constants.ANNOTATION_NEW_JOB) == "true":
                await self.store.record_dedup(
                    issue["id"],
                    identifier=issue["identifier"],
                    title=issue.get("title", ""),
                    team_key=spec["mapping"],
                    provider=issue["provider"],
                    now=created,
                )
            await self.store.append_dispatch_log(
                now=created,
                issue_id=issue["id"],
                identifier=issue["identifier"],
                title=issue.get("title", ""),
                team_key=spec["mapping"],
                repo="",
                kind=spec["kind"],
                iteration=int(spec.get("iteration", 1)),
                runner_mode=spec["runnerMode"],
                session_image=spec.get("sessionImage") or "",
                status=log_status_of_phase("Pending"),
                dispatch_name=metadata["name"],
            )
            logger.warning(
                "recorded dispatch %s after the fact", metadata["name"], extra={"issue": issue["identifier"]}
            )
        return bool(missing)

    async def _create(self, body: dict[str, Any], ticket: Ticket, namespace: str) -> dict[str, Any] | None:
        """Create the Dispatch under its deterministic name; None when this ticket's one already exists.

        A Linear and a Jira ticket may share an identifier (PAY-1): the second one takes the name with
        its provider appended, which is just as deterministic.
        """
        base = body["metadata"]["name"]
        for name in (base, f"{base}-{ticket.provider}"):
            body["metadata"]["name"] = name
            try:
                created: dict[str, Any] = await self.kube.create(DISPATCHES, namespace, body)
            except AlreadyExistsError:
                existing = (await self.kube.get(DISPATCHES, namespace, name))["spec"]["issue"]
                if (existing["provider"], existing["id"]) == (ticket.provider, ticket.id):
                    logger.info("dispatch %s already exists", name, extra={"issue": ticket.identifier})
                    return None
                continue
            return created
        logger.error("no free name for a dispatch of %s (tried %s)", ticket.identifier, base)
        return None

    async def _dispatch(
        self,
        ticket: Ticket,
        mapping: IndexedMapping,
        order: DispatchOrder,
        runner_mode: ResolvedRunnerMode,
        now: datetime,
    ) -> bool:
        """Create the Dispatch, then its dedup entry and log line; False when it already existed."""
        image = mapping.spec.runner.session_image or self.settings.session_image
        mode = effective_runner_mode(runner_mode.mode, mapping.spec)
        body = build_dispatch(ticket, mapping, order, mode, image)
        try:
            created = await self._create(body, ticket, mapping.namespace)
        except KubeError as error:
            logger.error(
                "could not create a dispatch of %s: %s", ticket.identifier, error, extra={"issue": ticket.identifier}
            )
            return False
        if created is None:
            return False
        name = str(created["metadata"]["name"])
        await self.events.record(
            DISPATCHES,
            created,
            EventType.NORMAL,
            "Dispatched",
            f"{ticket.identifier} ({ticket.title}) dispatched: {order.kind} run, iteration {order.iteration}, "
            f"runner mode {mode}",
            now,
        )
        self._unseen[name] = (mapping.spec.team_key, self.monotonic())
        self._recording.add(name)
        try:
            await self._record(ticket, mapping, order, name, mode, image, now)
        finally:
            self._recording.discard(name)
        logger.info("dispatched %s", name, extra={"issue": ticket.identifier, "team": mapping.spec.team_key})
        return True

    async def _record(
        self,
        ticket: Ticket,
        mapping: IndexedMapping,
        order: DispatchOrder,
        name: str,
        mode: str,
        image: str,
        now: datetime,
    ) -> None:
        """The dedup entry of a new job and the dispatch-log line of a Dispatch just created."""
        DISPATCHES_CREATED.labels(mapping.spec.team_key, order.kind).inc()
        if order.starts_new_job:
            await self.store.record_dedup(
                ticket.id,
                identifier=ticket.identifier,
                title=printable(ticket.title, 1024),
                team_key=mapping.spec.team_key,
                provider=ticket.provider,
                now=now,
            )
        source = mapping.spec.source
        await self.store.append_dispatch_log(
            now=now,
            issue_id=ticket.id,
            identifier=ticket.identifier,
            title=printable(ticket.title, 1024),
            team_key=mapping.spec.team_key,
            repo=f"{source.owner}/{source.repo}",
            kind=order.kind,
            iteration=order.iteration,
            runner_mode=mode,
            session_image=image,
            status=log_status_of_phase("Pending"),
            dispatch_name=name,
        )
