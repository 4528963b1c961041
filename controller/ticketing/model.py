"""The provider-neutral view of a ticket: what the decision needs, whatever system it came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

Provider = Literal["linear", "jira"]


class StateCategory(StrEnum):
    """Where a ticket is in its life, in words every provider maps onto.

    Linear's `WorkflowState.type` maps one to one (`canceled` and `duplicate` are cancelled);
    Jira's status categories map `new` → unstarted, `indeterminate` → started, `done` → completed.
    """

    TRIAGE = "triage"
    BACKLOG = "backlog"
    UNSTARTED = "unstarted"
    STARTED = "started"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (StateCategory.COMPLETED, StateCategory.CANCELLED)


@dataclass(frozen=True)
class Ticket:
    """One ticket carrying the AI label, as one poll or one webhook saw it."""

    provider: Provider
    id: str
    """The provider's stable id (Linear UUID, Jira numeric id)."""
    identifier: str
    """The human key, e.g. ENG-123."""
    title: str
    url: str
    state_name: str
    state: StateCategory
    labels: frozenset[str]
    updated_at: datetime
    route_key: str
    """What routes the ticket to a mapping: the Linear team key, or the Jira repo field's value."""
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class TicketScope:
    """One mapping's slice of a provider, as the poller asks for it."""

    team_key: str
    """The mapping's key, to route results back."""
    route_key: str
    """Linear: the Linear team key. Jira: the repo field value."""
    jql: str | None = None
    repo_field: str | None = None


class TicketSource(Protocol):
    """What the poller needs of a provider: one query for all of its mappings' tickets."""

    provider: Provider

    async def fetch_ai_tickets(self, scopes: list[TicketScope]) -> list[Ticket]:
        """Every ticket carrying the AI label within any of `scopes`, all pages, in one logical query."""
        ...

    async def ticket(self, ref: str, scopes: Sequence[TicketScope] = ()) -> Ticket | None:
        """One ticket by id or key, fetched fresh (webhooks announce; they are not trusted as data).

        `scopes` let a provider that routes by a field's value (Jira) fill in `route_key`.
        """
        ...
