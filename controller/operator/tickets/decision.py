"""Whether a ticket may run now, and as what: the heart of the controller, as one pure function.

Inputs are facts already gathered (the ticket, its mapping, its history, the mapping's load);
the output is a verdict with a reason and a sentence for people. No I/O, no clock reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from controller.resources import ProjectMappingSpec
from controller.resources.dispatch import DispatchKind
from controller.store import DEDUP_WINDOW
from controller.store import DecisionReason as Reason
from controller.ticketing.model import Ticket


class Verdict(StrEnum):
    DISPATCH = "dispatch"
    BLOCKED = "blocked"
    """Eligible, but held back: shown on the Blockers panel."""
    SKIP = "skip"
    """Nothing to do for this ticket now; not a blocker."""


@dataclass(frozen=True)
class TicketHistory:
    """What happened to a ticket before, from Dispatch resources and the dispatch log."""

    active_kind: DispatchKind | None = None
    """The kind of a Dispatch of this ticket that has not finished, if any."""
    planning_succeeded_at: datetime | None = None
    planning_started_at: datetime | None = None
    """When the last successful planning was dispatched (its Dispatch's creation)."""
    last_implementation_at: datetime | None = None
    implementation_succeeded: bool = False
    last_job_started_at: datetime | None = None
    """When the ticket entered the dedup window (its last new job), if it is recorded."""
    highest_iteration: dict[DispatchKind, int] | None = None


@dataclass(frozen=True)
class DispatchOrder:
    """What to run when the verdict is to dispatch."""

    kind: DispatchKind
    iteration: int
    starts_new_job: bool
    """A new job enters the dedup window; an implementation following its own planning does not."""


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: Reason | None
    message: str
    order: DispatchOrder | None = None

    @property
    def dispatches(self) -> bool:
        return self.order is not None

    @property
    def kind(self) -> DispatchKind | None:
        return self.order.kind if self.order else None

    @property
    def iteration(self) -> int | None:
        return self.order.iteration if self.order else None

    @property
    def starts_new_job(self) -> bool:
        return self.order.starts_new_job if self.order else False

    @property
    def reason_word(self) -> str:
        """The reason for metrics and the inbox; `dispatch` when there is none."""
        return self.reason.value if self.reason else "dispatch"


def _blocked(reason: Reason, message: str) -> Decision:
    return Decision(verdict=Verdict.BLOCKED, reason=reason, message=message)


def _skip(reason: Reason, message: str) -> Decision:
    return Decision(verdict=Verdict.SKIP, reason=reason, message=message)


def _continues_its_planning(spec: ProjectMappingSpec, history: TicketHistory) -> bool:
    """An implementation right after a successful planning belongs to the same job.

    Only the first: any implementation created since the planning was dispatched is that one.
    Creation times are compared with creation times (the API server's, whole seconds), never
    with the planning's finish, which an implementation dispatched within the same second would
    seem to precede.
    """
    if not spec.planning.enabled or history.planning_succeeded_at is None:
        return False
    planned = history.planning_started_at or history.planning_succeeded_at
    return history.last_implementation_at is None or history.last_implementation_at < planned


def next_kind(spec: ProjectMappingSpec, history: TicketHistory) -> DispatchKind:
    """Planning first when the mapping wants it and no planning has succeeded yet."""
    if spec.planning.enabled and history.planning_succeeded_at is None:
        return "planning"
    return "implementation"


def decide(
    ticket: Ticket,
    spec: ProjectMappingSpec,
    history: TicketHistory,
    *,
    active_in_mapping: int,
    missing_credentials: list[str],
    now: datetime,
    dedup_window: timedelta = DEDUP_WINDOW,
) -> Decision:
    """The verdict for one ticket of one mapping; checks run from "nothing to do" to "held back"."""
    if ticket.state.is_terminal:
        return _skip(Reason.TERMINAL, f"{ticket.identifier} is {ticket.state_name}")
    if history.active_kind is not None:
        return _skip(Reason.IN_PROGRESS, f"a {history.active_kind} run of {ticket.identifier} is in progress")
    if history.implementation_succeeded:
        return _skip(Reason.IMPLEMENTED, f"{ticket.identifier} has a pull request; reviews drive further runs")
    if missing_credentials:
        return _blocked(Reason.MISSING_CREDENTIALS, "; ".join(missing_credentials))
    if spec.paused:
        return _blocked(Reason.PAUSED, f"mapping {spec.team_key} is paused")
    kind = next_kind(spec, history)
    approval = spec.planning.approval_label
    if kind == "implementation" and spec.planning.enabled and approval and approval not in ticket.labels:
        return _blocked(Reason.PLANNING_PENDING, f"planning is done; waiting for the label {approval!r}")
    starts_new_job = not (kind == "implementation" and _continues_its_planning(spec, history))
    started = history.last_job_started_at
    if starts_new_job and started is not None and now - started < dedup_window:
        until = started + dedup_window
        return _blocked(
            Reason.DEDUP_WINDOW, f"dispatched at {started.isoformat()}; eligible again after {until.isoformat()}"
        )
    cap = spec.capacity.max_in_progress_ai_issues
    if active_in_mapping >= cap:
        return _blocked(
            Reason.CONCURRENCY_CAP, f"{active_in_mapping} of {cap} runs of mapping {spec.team_key} are in progress"
        )
    iteration = (history.highest_iteration or {}).get(kind, 0) + 1
    return Decision(
        verdict=Verdict.DISPATCH,
        reason=None,
        message=f"dispatch {kind} #{iteration}",
        order=DispatchOrder(kind=kind, iteration=iteration, starts_new_job=starts_new_job),
    )
