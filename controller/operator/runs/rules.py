"""What a Dispatch needs next, decided from its status and the clock alone.

The reconciler reads a Dispatch, asks `next_step`, does what it says (with I/O), and asks again
when told to come back. Every rule of a run's life lives here: when a reported result ends it,
when `maxJobMinutes` or a silent runner times it out, when a runner that ended without a result
fails it, and when the effects of a terminal phase are still owed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from controller.clock import parse_kube_timestamp
from controller.resources.dispatch import STOPPED_BY_THE_CONTROLLER, TERMINAL_PHASES, is_terminal

RUNNER_EXIT_GRACE = timedelta(minutes=2)
"""How long a result may trail the end of its runner (the callback can be in flight) before it fails."""


class Action(StrEnum):
    START = "start"
    FINISH = "finish"
    STOP = "stop"
    """Stop the runner (delete its session) and wait for the work it saves, then close out."""
    CLOSE_OUT = "close-out"
    WAIT = "wait"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """A Dispatch's status, reduced to what the rules read."""

    phase: str | None
    started_at: datetime | None = None
    deadline_at: datetime | None = None
    last_progress_at: datetime | None = None
    result_outcome: str | None = None
    runner_ended_at: datetime | None = None
    finished_at: datetime | None = None
    closed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NextStep:
    action: Action
    phase: str | None = None
    reason: str | None = None
    message: str | None = None
    recheck_after: timedelta | None = None


def next_step(
    facts: RunFacts, now: datetime, progress_timeout: timedelta, stop_grace: timedelta = timedelta(0)
) -> NextStep:
    """The one thing to do now for a Dispatch in this state."""
    if facts.phase in TERMINAL_PHASES:
        if facts.closed:
            return NextStep(action=Action.NOTHING)
        saved_by = _saved_work_expected_until(facts, stop_grace)
        if saved_by is not None and now < saved_by:
            return NextStep(action=Action.STOP, recheck_after=saved_by - now)
        return NextStep(action=Action.CLOSE_OUT)
    if facts.phase != "Running" or facts.started_at is None:
        if facts.deadline_at is not None and now >= facts.deadline_at:
            return NextStep(
                action=Action.FINISH,
                phase="TimedOut",
                reason="StartTimedOut",
                message="the run could not be started before maxJobMinutes ran out (see the operator's log)",
            )
        return NextStep(action=Action.START)
    return _running(facts, now, progress_timeout)


def _saved_work_expected_until(facts: RunFacts, stop_grace: timedelta) -> datetime | None:
    """A run the controller ended while its runner worked may still report the work it saves on SIGTERM."""
    if facts.phase not in STOPPED_BY_THE_CONTROLLER or facts.result_outcome is not None:
        return None
    if facts.started_at is None or facts.finished_at is None or facts.runner_ended_at is not None:
        return None
    return facts.finished_at + stop_grace


def _running(facts: RunFacts, now: datetime, progress_timeout: timedelta) -> NextStep:
    if facts.result_outcome is not None:
        succeeded = facts.result_outcome == "succeeded"
        return NextStep(action=Action.FINISH, phase="Succeeded" if succeeded else "Failed")
    assert facts.started_at is not None
    deadline = facts.deadline_at
    if deadline is not None and now >= deadline:
        minutes = round((deadline - facts.started_at).total_seconds() / 60)
        return NextStep(
            action=Action.FINISH,
            phase="TimedOut",
            reason="TimedOut",
            message=f"the run was still going after maxJobMinutes ({minutes} min) and was stopped",
        )
    silent_since = facts.last_progress_at or facts.started_at
    stall_at = silent_since + progress_timeout
    if now >= stall_at:
        minutes = round(progress_timeout.total_seconds() / 60)
        return NextStep(
            action=Action.FINISH,
            phase="TimedOut",
            reason="Stalled",
            message=f"the runner sent no progress for {minutes} min (RUNNER_PROGRESS_TIMEOUT_MINUTES) and was stopped",
        )
    checks = [stall_at] + ([deadline] if deadline is not None else [])
    if facts.runner_ended_at is not None:
        if now >= facts.runner_ended_at + RUNNER_EXIT_GRACE:
            return NextStep(
                action=Action.FINISH,
                phase="Failed",
                reason="RunnerExited",
                message="the runner ended without reporting a result",
            )
        checks.append(facts.runner_ended_at + RUNNER_EXIT_GRACE)
    return NextStep(action=Action.WAIT, recheck_after=max(min(checks) - now, timedelta(0)))


OVERDUE_GRACE: Final = timedelta(minutes=10)
"""How long past its deadline an unfinished Dispatch may be before it counts as overdue: the controller
times runs out at their deadline, and a stopping run may take its stop grace to save its work."""


def overdue_count(deadlines: Iterable[tuple[str | None, str | None]], now: datetime) -> int:
    """Unfinished Dispatches, given as (phase, deadlineAt), whose deadline passed more than OVERDUE_GRACE ago."""
    count = 0
    for phase, deadline in deadlines:
        moment = parse_kube_timestamp(deadline)
        if not is_terminal(phase) and moment is not None and moment + OVERDUE_GRACE < now:
            count += 1
    return count
