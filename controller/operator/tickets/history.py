"""A ticket's history, assembled from its Dispatch resources and the dispatch log, purely.

Resources are the live truth while they exist; the log remembers what retention has deleted.
Only a resource can make a ticket "in progress": a log line whose resource is gone cannot run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from controller.operator.tickets.decision import TicketHistory
from controller.resources.dispatch import DispatchKind, is_terminal, phase_of_log_status
from controller.store import DispatchLogEntry


@dataclass(frozen=True)
class DispatchFact:
    """One dispatch of a ticket, whichever source told us about it."""

    name: str
    issue_id: str
    kind: DispatchKind
    iteration: int
    phase: str
    created_at: datetime
    finished_at: datetime | None
    live: bool
    """True when it comes from an existing Dispatch resource."""


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def fact_from_resource(body: Mapping[str, Any]) -> DispatchFact:
    spec, status, metadata = body["spec"], body.get("status") or {}, body["metadata"]
    created = _parse_time(metadata.get("creationTimestamp"))
    assert created is not None, "the API server always sets creationTimestamp"
    return DispatchFact(
        name=metadata["name"],
        issue_id=spec["issue"]["id"],
        kind=cast(DispatchKind, spec["kind"]),
        iteration=int(spec.get("iteration", 1)),
        phase=status.get("phase") or "Pending",
        created_at=created,
        finished_at=_parse_time(status.get("finishedAt")),
        live=True,
    )


def fact_from_log(entry: DispatchLogEntry) -> DispatchFact:
    return DispatchFact(
        name=entry.dispatch_name or f"log-{entry.id}",
        issue_id=entry.issue_id,
        kind=entry.kind,
        iteration=entry.iteration,
        phase=phase_of_log_status(entry.status),
        created_at=entry.created_at,
        finished_at=None,
        live=False,
    )


def ticket_histories(
    resources: Iterable[Mapping[str, Any]],
    log: Iterable[DispatchLogEntry],
    dedup: Mapping[str, datetime],
) -> dict[str, TicketHistory]:
    """One history per ticket id that has any dispatch or dedup entry."""
    facts: dict[str, DispatchFact] = {fact.name: fact for fact in map(fact_from_log, log)}
    facts |= {fact.name: fact for fact in map(fact_from_resource, resources)}
    by_ticket: dict[str, list[DispatchFact]] = defaultdict(list)
    for fact in facts.values():
        by_ticket[fact.issue_id].append(fact)
    tickets = set(by_ticket) | set(dedup)
    return {issue_id: _history(by_ticket.get(issue_id, []), dedup.get(issue_id)) for issue_id in tickets}


def _history(facts: list[DispatchFact], dedup_started: datetime | None) -> TicketHistory:
    active = [f for f in facts if f.live and not is_terminal(f.phase)]
    plannings = [f for f in facts if f.kind == "planning" and f.phase == "Succeeded"]
    implementations = [f for f in facts if f.kind == "implementation"]
    highest: dict[DispatchKind, int] = {}
    for fact in facts:
        highest[fact.kind] = max(highest.get(fact.kind, 0), fact.iteration)
    planning = max(plannings, key=lambda f: f.finished_at or f.created_at, default=None)
    return TicketHistory(
        active_kind=min(active, key=lambda f: f.created_at).kind if active else None,
        planning_succeeded_at=(planning.finished_at or planning.created_at) if planning else None,
        planning_started_at=planning.created_at if planning else None,
        last_implementation_at=max((f.created_at for f in implementations), default=None),
        implementation_succeeded=any(f.phase == "Succeeded" for f in implementations),
        last_job_started_at=dedup_started,
        highest_iteration=highest,
    )
