"""Every branch of the dispatch decision, as a table; no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.operator.tickets.decision import Decision, Reason, TicketHistory, Verdict, decide
from controller.resources import ProjectMappingSpec
from controller.ticketing.model import StateCategory, Ticket

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)

TICKET = Ticket(
    provider="linear",
    id="0b5c6f0e-1111-4222-8333-444455556666",
    identifier="ENG-7",
    title="Add dark mode",
    url="https://linear.app/acme/issue/ENG-7",
    state_name="Todo",
    state=StateCategory.UNSTARTED,
    labels=frozenset({"AI-Implement"}),
    updated_at=NOW - HOUR,
    route_key="ENG",
)


def spec(**changes: Any) -> ProjectMappingSpec:
    body: dict[str, Any] = {
        "teamKey": "ENG",
        "ticketing": {"provider": "linear"},
        "source": {"owner": "acme", "repo": "web", "defaultBranch": "main"},
        "capacity": {"maxInProgressAiIssues": 2},
        "planning": {"enabled": True},
    }
    for key, value in changes.items():
        body[key] = value
    return ProjectMappingSpec.model_validate(body)


def run(
    *,
    ticket: Ticket = TICKET,
    mapping: ProjectMappingSpec | None = None,
    history: TicketHistory | None = None,
    active: int = 0,
    missing: list[str] | None = None,
) -> Decision:
    return decide(
        ticket,
        mapping or spec(),
        history or TicketHistory(),
        active_in_mapping=active,
        missing_credentials=missing or [],
        now=NOW,
    )


NO_PLANNING = spec(planning={"enabled": False})
WITH_APPROVAL = spec(planning={"enabled": True, "approvalLabel": "plan-approved"})
PLANNED = TicketHistory(planning_succeeded_at=NOW - HOUR, last_job_started_at=NOW - 2 * HOUR)


@pytest.mark.parametrize(
    ("case", "kwargs", "verdict", "reason", "kind"),
    [
        ("new ticket, planning first", {}, Verdict.DISPATCH, None, "planning"),
        ("new ticket, no planning", {"mapping": NO_PLANNING}, Verdict.DISPATCH, None, "implementation"),
        ("planned: implementation follows at once", {"history": PLANNED}, Verdict.DISPATCH, None, "implementation"),
        (
            "done ticket",
            {"ticket": replace(TICKET, state=StateCategory.COMPLETED, state_name="Done")},
            Verdict.SKIP,
            Reason.TERMINAL,
            None,
        ),
        (
            "cancelled ticket",
            {"ticket": replace(TICKET, state=StateCategory.CANCELLED, state_name="Canceled")},
            Verdict.SKIP,
            Reason.TERMINAL,
            None,
        ),
        ("run in progress", {"history": TicketHistory(active_kind="planning")}, Verdict.SKIP, Reason.IN_PROGRESS, None),
        (
            "already implemented",
            {"history": TicketHistory(implementation_succeeded=True)},
            Verdict.SKIP,
            Reason.IMPLEMENTED,
            None,
        ),
        (
            "credentials missing",
            {"missing": ["LINEAR_API_KEY is not set"]},
            Verdict.BLOCKED,
            Reason.MISSING_CREDENTIALS,
            None,
        ),
        ("paused mapping", {"mapping": spec(paused=True)}, Verdict.BLOCKED, Reason.PAUSED, None),
        ("cap reached", {"active": 2}, Verdict.BLOCKED, Reason.CONCURRENCY_CAP, None),
        (
            "cap zero",
            {"mapping": spec(capacity={"maxInProgressAiIssues": 0})},
            Verdict.BLOCKED,
            Reason.CONCURRENCY_CAP,
            None,
        ),
        (
            "dispatched an hour ago",
            {"history": TicketHistory(last_job_started_at=NOW - HOUR)},
            Verdict.BLOCKED,
            Reason.DEDUP_WINDOW,
            None,
        ),
        (
            "dispatched 24 h ago: eligible again",
            {"history": TicketHistory(last_job_started_at=NOW - 24 * HOUR)},
            Verdict.DISPATCH,
            None,
            "planning",
        ),
        (
            "planned but approval label missing",
            {"mapping": WITH_APPROVAL, "history": PLANNED},
            Verdict.BLOCKED,
            Reason.PLANNING_PENDING,
            None,
        ),
        (
            "planned and approved",
            {
                "mapping": WITH_APPROVAL,
                "history": PLANNED,
                "ticket": replace(TICKET, labels=frozenset({"AI-Implement", "plan-approved"})),
            },
            Verdict.DISPATCH,
            None,
            "implementation",
        ),
        (
            "an implementation created in the second its planning finished is not started again",
            {
                "history": TicketHistory(
                    planning_started_at=NOW - timedelta(seconds=5),
                    planning_succeeded_at=NOW - timedelta(seconds=0.2),
                    last_implementation_at=NOW - timedelta(seconds=1),  # whole seconds, before the finish
                    last_job_started_at=NOW - timedelta(seconds=5),
                )
            },
            Verdict.BLOCKED,
            Reason.DEDUP_WINDOW,
            None,
        ),
        (
            "implementation failed after its planning: a retry waits for the window",
            {"history": replace(PLANNED, last_implementation_at=NOW - HOUR / 2, last_job_started_at=NOW - HOUR / 2)},
            Verdict.BLOCKED,
            Reason.DEDUP_WINDOW,
            None,
        ),
        (
            "planned but paused",
            {"mapping": spec(paused=True), "history": PLANNED},
            Verdict.BLOCKED,
            Reason.PAUSED,
            None,
        ),
        ("planned but at cap", {"history": PLANNED, "active": 2}, Verdict.BLOCKED, Reason.CONCURRENCY_CAP, None),
    ],
)
def test_decision_table(
    case: str, kwargs: dict[str, Any], verdict: Verdict, reason: Reason | None, kind: str | None
) -> None:
    decision = run(**kwargs)
    assert (decision.verdict, decision.reason, decision.kind) == (verdict, reason, kind), case
    assert decision.message


def test_precedence_terminal_before_everything() -> None:
    done = replace(TICKET, state=StateCategory.COMPLETED, state_name="Done")
    assert run(ticket=done, mapping=spec(paused=True), active=9, missing=["x"]).reason is Reason.TERMINAL


def test_the_iteration_counts_up_per_kind() -> None:
    history = TicketHistory(highest_iteration={"planning": 2, "implementation": 1})
    assert (run(history=history).kind, run(history=history).iteration) == ("planning", 3)
    assert run(history=replace(PLANNED, highest_iteration={"implementation": 1})).iteration == 2


def test_new_jobs_enter_the_dedup_window_and_continuations_do_not() -> None:
    assert run().starts_new_job
    assert run(mapping=NO_PLANNING).starts_new_job
    assert not run(history=PLANNED).starts_new_job


def test_blocked_messages_say_why() -> None:
    assert "2 of 2" in run(active=2).message
    assert "eligible again after" in run(history=TicketHistory(last_job_started_at=NOW - HOUR)).message
    assert "plan-approved" in run(mapping=WITH_APPROVAL, history=PLANNED).message
