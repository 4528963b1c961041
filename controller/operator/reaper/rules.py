"""Which live runner resources the reaper destroys, and why: four rules and one protection, purely.

A sweep gathers, for each machine, container or workflow run a backend lists, what owns it (a
RunnerSession, a Dispatch), how old it is and whether its ticket is done; `judge` turns those facts
into a verdict. The protection comes first and no rule can override it: a resource that a live
Dispatch owns within its deadline is never destroyed, and neither is one labelled for another
controller (another namespace or tenant sharing the backend).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from controller.store import ReaperRule


class TicketState(StrEnum):
    """What the ticketing system said about the resource's ticket during this sweep."""

    OPEN = "open"
    TERMINAL = "terminal"
    """Completed or cancelled."""
    UNKNOWN = "unknown"
    """No ticket is known, or asking about it failed: no rule may rely on it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnerFacts:
    """The Dispatch a resource runs for, reduced to what the rules read."""

    name: str
    terminal: bool
    finished_at: datetime | None = None
    deadline_at: datetime | None = None
    shadow: bool = False
    """The resource is the Dispatch's shadow run, which is left to finish after the Dispatch ends."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceFacts:
    """One live resource as the sweep found it."""

    created_at: datetime | None
    """When the backend created it (or when a census first saw it, if the backend does not say)."""
    foreign: bool = False
    """Labelled for another namespace or tenant: another controller's business."""
    has_session: bool = False
    """A RunnerSession stands for it."""
    owner: OwnerFacts | None = None
    ticket: TicketState = TicketState.UNKNOWN
    max_job_minutes: int | None = None
    """The owning mapping's `maxJobMinutes`, when the mapping is known."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """`rule` is None when the resource stays; `reason` says why, either way, for logs and records."""

    rule: ReaperRule | None
    reason: str

    @property
    def destroys(self) -> bool:
        return self.rule is not None


def age(facts: ResourceFacts, now: datetime) -> timedelta | None:
    if facts.created_at is None:
        return None
    return max(now - facts.created_at, timedelta(0))


def protection(facts: ResourceFacts, now: datetime) -> str | None:
    """Why the resource must stay whatever the rules say, or None when the rules may judge it."""
    if facts.foreign:
        return "it is labelled for another namespace or tenant"
    owner = facts.owner
    if owner is None or owner.terminal:
        return None
    if owner.deadline_at is None:
        return f"Dispatch {owner.name} is live and has no deadline yet (it is starting)"
    if now < owner.deadline_at:
        return f"Dispatch {owner.name} is live and within its deadline"
    return None


def is_orphan(facts: ResourceFacts, now: datetime, grace: timedelta) -> bool:
    """No RunnerSession and no Dispatch owns it, and it is older than the grace a start needs."""
    if facts.has_session or facts.owner is not None:
        return False
    old = age(facts, now)
    return old is not None and old >= grace


def is_stale_terminal_job(facts: ResourceFacts, now: datetime, grace: timedelta) -> bool:
    """Its Dispatch ended more than the grace ago and it still runs (a shadow may last to the deadline)."""
    owner = facts.owner
    if owner is None or not owner.terminal or owner.finished_at is None:
        return False
    ended = owner.finished_at
    if owner.shadow and owner.deadline_at is not None:
        ended = max(ended, owner.deadline_at)
    return now >= ended + grace


def is_max_age_exceeded(facts: ResourceFacts, now: datetime, grace: timedelta) -> bool:
    """Older than its mapping's `maxJobMinutes` plus the grace: no run may last that long."""
    old = age(facts, now)
    if old is None or facts.max_job_minutes is None:
        return False
    return old > timedelta(minutes=facts.max_job_minutes) + grace


def is_issue_terminal(facts: ResourceFacts, now: datetime, grace: timedelta) -> bool:
    """Its ticket was completed or cancelled: whatever it does, nobody needs it any more."""
    return facts.ticket is TicketState.TERMINAL


Rule = Callable[[ResourceFacts, datetime, timedelta], bool]

RULES: Final[tuple[tuple[ReaperRule, Rule], ...]] = (
    ("issue-terminal", is_issue_terminal),
    ("stale-terminal-job", is_stale_terminal_job),
    ("orphan", is_orphan),
    ("max-age-exceeded", is_max_age_exceeded),
)
"""In the order a resource that matches several is reported under: the most telling reason first."""

_REASONS: Final[dict[ReaperRule, str]] = {
    "issue-terminal": "its ticket was completed or cancelled",
    "stale-terminal-job": "its Dispatch ended more than the grace period ago",
    "orphan": "no RunnerSession or Dispatch owns it",
    "max-age-exceeded": "it is older than maxJobMinutes plus the grace period",
}


def judge(facts: ResourceFacts, now: datetime, grace: timedelta) -> Verdict:
    """The protection first, then the first rule that matches; a resource no rule matches stays."""
    kept = protection(facts, now)
    if kept is not None:
        return Verdict(None, f"kept: {kept}")
    for rule, matches in RULES:
        if matches(facts, now, grace):
            return Verdict(rule, _REASONS[rule])
    return Verdict(None, "kept: no rule matches")
