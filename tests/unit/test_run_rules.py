"""The life of a run as a table: what a Dispatch needs next, from its status and the clock alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.operator.runs.rules import RUNNER_EXIT_GRACE, Action, RunFacts, next_step

T0 = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=20)
DEADLINE = T0 + timedelta(minutes=90)


def running(**changes: object) -> RunFacts:
    facts: dict[str, object] = {"phase": "Running", "started_at": T0, "deadline_at": DEADLINE}
    return RunFacts(**(facts | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "now", "action", "phase", "reason"),
    [
        (RunFacts(phase=None), T0, Action.START, None, None),
        (RunFacts(phase="Pending"), T0, Action.START, None, None),
        (RunFacts(phase="Starting", deadline_at=DEADLINE), T0, Action.START, None, None),
        (RunFacts(phase="Running"), T0, Action.START, None, None),
        (running(), T0 + timedelta(minutes=5), Action.WAIT, None, None),
        (running(result_outcome="succeeded"), T0, Action.FINISH, "Succeeded", None),
        (running(result_outcome="failed"), T0, Action.FINISH, "Failed", None),
        (running(result_outcome="succeeded"), DEADLINE + timedelta(hours=1), Action.FINISH, "Succeeded", None),
        (running(last_progress_at=DEADLINE - timedelta(minutes=1)), DEADLINE, Action.FINISH, "TimedOut", "TimedOut"),
        (running(), T0 + TIMEOUT, Action.FINISH, "TimedOut", "Stalled"),
        (running(last_progress_at=T0 + timedelta(minutes=15)), T0 + TIMEOUT, Action.WAIT, None, None),
        (
            running(last_progress_at=T0 + timedelta(minutes=15)),
            T0 + timedelta(minutes=35),
            Action.FINISH,
            "TimedOut",
            "Stalled",
        ),
        (
            running(runner_ended_at=T0 + timedelta(minutes=3)),
            T0 + timedelta(minutes=4),
            Action.WAIT,
            None,
            None,
        ),
        (
            running(runner_ended_at=T0 + timedelta(minutes=3)),
            T0 + timedelta(minutes=3) + RUNNER_EXIT_GRACE,
            Action.FINISH,
            "Failed",
            "RunnerExited",
        ),
        (RunFacts(phase="Starting", deadline_at=DEADLINE), DEADLINE, Action.FINISH, "TimedOut", "StartTimedOut"),
        (RunFacts(phase="Succeeded"), T0, Action.CLOSE_OUT, None, None),
        (RunFacts(phase="TimedOut"), T0, Action.CLOSE_OUT, None, None),
        (RunFacts(phase="Failed", closed=True), T0, Action.NOTHING, None, None),
    ],
    ids=[
        "new",
        "pending",
        "starting-again-after-a-crash",
        "running-without-start-time-is-repaired",
        "running-quietly",
        "result-success",
        "result-failure",
        "result-beats-late-deadline",
        "max-job-minutes",
        "no-progress-ever",
        "recent-progress",
        "progress-went-silent",
        "runner-ended-result-may-be-in-flight",
        "runner-ended-without-result",
        "could-not-start-before-the-deadline",
        "succeeded-owes-effects",
        "timed-out-owes-effects",
        "closed",
    ],
)
def test_next_step(facts: RunFacts, now: datetime, action: Action, phase: str | None, reason: str | None) -> None:
    step = next_step(facts, now, TIMEOUT)

    assert (step.action, step.phase, step.reason) == (action, phase, reason)
    if reason is not None:
        assert step.message


def test_a_quiet_run_is_looked_at_again_at_its_nearest_deadline() -> None:
    facts = running(last_progress_at=T0 + timedelta(minutes=80))

    assert next_step(facts, T0 + timedelta(minutes=85), TIMEOUT).recheck_after == timedelta(minutes=5)
    assert next_step(running(), T0 + timedelta(minutes=5), TIMEOUT).recheck_after == timedelta(minutes=15)


def test_the_timeout_messages_say_which_limit_ran_out() -> None:
    assert "maxJobMinutes (90 min)" in str(next_step(running(last_progress_at=DEADLINE), DEADLINE, TIMEOUT).message)
    assert "20 min" in str(next_step(running(), T0 + TIMEOUT, TIMEOUT).message)


GRACE = timedelta(seconds=60)
STOPPED = T0 + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("changes", "now", "action"),
    [
        ({"phase": "Cancelled"}, STOPPED, Action.STOP),
        ({"phase": "TimedOut"}, STOPPED + timedelta(seconds=59), Action.STOP),
        ({"phase": "TimedOut"}, STOPPED + GRACE, Action.CLOSE_OUT),
        ({"phase": "Cancelled", "result_outcome": "failed"}, STOPPED, Action.CLOSE_OUT),
        ({"phase": "Cancelled", "runner_ended_at": STOPPED}, STOPPED, Action.CLOSE_OUT),
        ({"phase": "Failed"}, STOPPED, Action.CLOSE_OUT),
        ({"phase": "Cancelled", "started_at": None}, STOPPED, Action.CLOSE_OUT),
        ({"phase": "Cancelled", "closed": True}, STOPPED, Action.NOTHING),
    ],
    ids=["cancelled", "timed-out", "grace-over", "result-came", "runner-gone", "failed", "never-started", "closed"],
)
def test_a_run_the_controller_stopped_waits_for_the_work_its_runner_saves(
    changes: dict[str, object], now: datetime, action: Action
) -> None:
    facts = running(finished_at=STOPPED, **changes)

    step = next_step(facts, now, TIMEOUT, GRACE)

    assert step.action is action
    if action is Action.STOP:
        assert step.recheck_after == STOPPED + GRACE - now
    assert next_step(facts, now, TIMEOUT).action is not Action.STOP, "no grace: close out at once"
