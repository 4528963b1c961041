"""A ticket's history from resources and log lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controller.operator.tickets.history import ticket_histories
from controller.resources.dispatch import log_status_of_phase, phase_of_log_status
from controller.store import DispatchLogEntry

T0 = datetime(2026, 11, 22, 9, tzinfo=UTC)


def resource(name: str, kind: str, iteration: int, phase: str | None, *, at: datetime = T0) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase} if phase else {}
    if phase == "Succeeded":
        status["finishedAt"] = (at + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    return {
        "metadata": {"name": name, "creationTimestamp": at.isoformat().replace("+00:00", "Z")},
        "spec": {"issue": {"id": "i-1"}, "kind": kind, "iteration": iteration},
        "status": status,
    }


def log_line(name: str | None, kind: str, iteration: int, status: str, *, at: datetime = T0) -> DispatchLogEntry:
    return DispatchLogEntry(
        id=1,
        created_at=at,
        issue_id="i-1",
        identifier="ENG-1",
        title="t",
        team_key="ENG",
        repo="acme/web",
        kind=kind,  # type: ignore[arg-type]
        iteration=iteration,
        runner_mode="github-actions",
        session_image="img",
        status=status,
        pull_request_url=None,
        dispatch_name=name,
        message=None,
    )


def test_a_live_unfinished_dispatch_makes_the_ticket_active() -> None:
    history = ticket_histories([resource("eng-1-planning-1", "planning", 1, None)], [], {})["i-1"]
    assert history.active_kind == "planning"


def test_a_log_line_alone_never_makes_a_ticket_active() -> None:
    history = ticket_histories([], [log_line("eng-1-planning-1", "planning", 1, "running")], {})["i-1"]
    assert history.active_kind is None
    assert history.highest_iteration == {"planning": 1}


def test_the_resource_wins_over_its_own_log_line() -> None:
    histories = ticket_histories(
        [resource("eng-1-planning-1", "planning", 1, "Succeeded")],
        [log_line("eng-1-planning-1", "planning", 1, "pending")],
        {},
    )
    assert histories["i-1"].planning_succeeded_at == T0 + timedelta(minutes=30)
    assert histories["i-1"].planning_started_at == T0, "when it was dispatched, to compare with creations"


def test_successes_iterations_and_dedup_are_gathered() -> None:
    later = T0 + timedelta(hours=2)
    histories = ticket_histories(
        [resource("eng-1-implementation-2", "implementation", 2, "Succeeded", at=later)],
        [log_line("eng-1-planning-1", "planning", 1, "succeeded"), log_line(None, "implementation", 1, "failed")],
        {"i-1": T0, "i-2": later},
    )
    first = histories["i-1"]
    assert first.implementation_succeeded
    assert first.planning_succeeded_at == T0
    assert first.last_implementation_at == later
    assert first.highest_iteration == {"planning": 1, "implementation": 2}
    assert first.last_job_started_at == T0
    assert histories["i-2"].last_job_started_at == later


def test_log_status_words_round_trip_every_phase() -> None:
    for phase in ("Pending", "Starting", "Running", "Succeeded", "Failed", "ReviewFailed", "Cancelled", "TimedOut"):
        assert phase_of_log_status(log_status_of_phase(phase)) == phase
    assert log_status_of_phase("ReviewFailed") == "review-failed"
