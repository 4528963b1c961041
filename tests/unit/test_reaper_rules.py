"""The reaper's four rules and its protection, each as a table; no I/O, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.operator.reaper.rules import (
    RULES,
    OwnerFacts,
    ResourceFacts,
    TicketState,
    is_issue_terminal,
    is_max_age_exceeded,
    is_orphan,
    is_stale_terminal_job,
    judge,
    protection,
)

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=10)


def minutes_ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def minutes_ahead(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


LIVE = OwnerFacts(name="eng-1-implementation-1", terminal=False, deadline_at=minutes_ahead(30))
LIVE_STARTING = OwnerFacts(name="eng-1-implementation-1", terminal=False, deadline_at=None)
LIVE_PAST_DEADLINE = OwnerFacts(name="eng-1-implementation-1", terminal=False, deadline_at=minutes_ago(1))
ENDED_LONG_AGO = OwnerFacts(name="eng-1-implementation-1", terminal=True, finished_at=minutes_ago(11))
ENDED_JUST_NOW = OwnerFacts(name="eng-1-implementation-1", terminal=True, finished_at=minutes_ago(9))


@pytest.mark.parametrize(
    ("facts", "orphan"),
    [
        (ResourceFacts(created_at=minutes_ago(11)), True),
        (ResourceFacts(created_at=minutes_ago(10)), True),
        (ResourceFacts(created_at=minutes_ago(9)), False),
        (ResourceFacts(created_at=None), False),
        (ResourceFacts(created_at=minutes_ago(60), has_session=True), False),
        (ResourceFacts(created_at=minutes_ago(60), owner=ENDED_LONG_AGO), False),
        (ResourceFacts(created_at=minutes_ago(60), owner=LIVE), False),
    ],
    ids=["old", "exactly-grace", "young", "age-unknown", "has-session", "has-ended-owner", "has-live-owner"],
)
def test_orphan_is_a_resource_nobody_owns_older_than_the_grace(facts: ResourceFacts, orphan: bool) -> None:
    assert is_orphan(facts, NOW, GRACE) is orphan


@pytest.mark.parametrize(
    ("owner", "stale"),
    [
        (ENDED_LONG_AGO, True),
        (ENDED_JUST_NOW, False),
        (OwnerFacts(name="d", terminal=True, finished_at=None), False),
        (LIVE, False),
        (LIVE_PAST_DEADLINE, False),
        (None, False),
        (
            OwnerFacts(name="d", terminal=True, finished_at=minutes_ago(60), deadline_at=minutes_ago(5), shadow=True),
            False,
        ),
        (
            OwnerFacts(name="d", terminal=True, finished_at=minutes_ago(60), deadline_at=minutes_ago(11), shadow=True),
            True,
        ),
        (OwnerFacts(name="d", terminal=True, finished_at=minutes_ago(60), deadline_at=None, shadow=True), True),
    ],
    ids=[
        "ended-past-grace",
        "ended-within-grace",
        "ended-time-unknown",
        "live",
        "live-past-deadline",
        "no-owner",
        "shadow-before-deadline-and-grace",
        "shadow-after-deadline-and-grace",
        "shadow-without-deadline",
    ],
)
def test_stale_terminal_job_is_a_resource_outliving_its_ended_dispatch(owner: OwnerFacts | None, stale: bool) -> None:
    facts = ResourceFacts(created_at=minutes_ago(120), owner=owner, has_session=owner is not None)
    assert is_stale_terminal_job(facts, NOW, GRACE) is stale


@pytest.mark.parametrize(
    ("created_minutes_ago", "max_job_minutes", "exceeded"),
    [
        (71, 60, True),
        (70, 60, False),
        (69, 60, False),
        (500, None, False),
        (None, 60, False),
    ],
    ids=["past-max-and-grace", "exactly-max-and-grace", "within", "max-unknown", "age-unknown"],
)
def test_max_age_exceeded_is_older_than_max_job_minutes_and_the_grace(
    created_minutes_ago: float | None, max_job_minutes: int | None, exceeded: bool
) -> None:
    created = None if created_minutes_ago is None else minutes_ago(created_minutes_ago)
    facts = ResourceFacts(created_at=created, max_job_minutes=max_job_minutes, owner=LIVE_PAST_DEADLINE)
    assert is_max_age_exceeded(facts, NOW, GRACE) is exceeded


@pytest.mark.parametrize(
    ("ticket", "terminal"),
    [(TicketState.TERMINAL, True), (TicketState.OPEN, False), (TicketState.UNKNOWN, False)],
    ids=["completed-or-cancelled", "open", "unknown"],
)
def test_issue_terminal_needs_the_ticket_known_to_be_done(ticket: TicketState, terminal: bool) -> None:
    facts = ResourceFacts(created_at=minutes_ago(1), ticket=ticket)
    assert is_issue_terminal(facts, NOW, GRACE) is terminal


@pytest.mark.parametrize(
    ("facts", "kept"),
    [
        (ResourceFacts(created_at=minutes_ago(500), owner=LIVE), True),
        (ResourceFacts(created_at=minutes_ago(500), owner=LIVE_STARTING), True),
        (ResourceFacts(created_at=minutes_ago(500), owner=LIVE_PAST_DEADLINE), False),
        (ResourceFacts(created_at=minutes_ago(500), owner=ENDED_LONG_AGO), False),
        (ResourceFacts(created_at=minutes_ago(500)), False),
        (ResourceFacts(created_at=minutes_ago(500), foreign=True), True),
    ],
    ids=["live-in-deadline", "live-starting", "live-past-deadline", "ended", "unowned", "foreign"],
)
def test_protection_covers_live_runs_within_their_deadline_and_foreign_resources(
    facts: ResourceFacts, kept: bool
) -> None:
    assert (protection(facts, NOW) is not None) is kept


def everything_wrong(*, owner: OwnerFacts | None = None, foreign: bool = False) -> ResourceFacts:
    """Ancient, its ticket done, far past any maxJobMinutes: every rule would fire but for the protection."""
    return ResourceFacts(
        created_at=minutes_ago(10_000),
        ticket=TicketState.TERMINAL,
        max_job_minutes=60,
        owner=owner,
        foreign=foreign,
    )


@pytest.mark.parametrize("owner", [LIVE, LIVE_STARTING], ids=["in-deadline", "starting"])
def test_no_rule_overrides_the_protection_of_a_live_run(owner: OwnerFacts) -> None:
    facts = everything_wrong(owner=owner)

    verdict = judge(facts, NOW, GRACE)

    assert not verdict.destroys
    assert owner.name in verdict.reason


def test_a_foreign_resource_is_never_destroyed() -> None:
    verdict = judge(everything_wrong(foreign=True), NOW, GRACE)
    assert not verdict.destroys


@pytest.mark.parametrize(
    ("facts", "rule"),
    [
        (
            ResourceFacts(created_at=minutes_ago(1), owner=LIVE_PAST_DEADLINE, ticket=TicketState.TERMINAL),
            "issue-terminal",
        ),
        (ResourceFacts(created_at=minutes_ago(11), ticket=TicketState.TERMINAL), "issue-terminal"),
        (ResourceFacts(created_at=minutes_ago(500), owner=ENDED_LONG_AGO, max_job_minutes=60), "stale-terminal-job"),
        (ResourceFacts(created_at=minutes_ago(500), max_job_minutes=60), "orphan"),
        (ResourceFacts(created_at=minutes_ago(71), owner=LIVE_PAST_DEADLINE, max_job_minutes=60), "max-age-exceeded"),
        (ResourceFacts(created_at=minutes_ago(500), has_session=True, max_job_minutes=60), "max-age-exceeded"),
        (ResourceFacts(created_at=minutes_ago(65), owner=LIVE_PAST_DEADLINE, max_job_minutes=60), None),
        (ResourceFacts(created_at=minutes_ago(2), owner=ENDED_JUST_NOW, ticket=TicketState.OPEN), None),
        (ResourceFacts(created_at=minutes_ago(2)), None),
    ],
    ids=[
        "ticket-done-beats-everything",
        "orphan-of-a-done-ticket-reads-issue-terminal",
        "ended-dispatch",
        "nobody-owns-it",
        "run-past-deadline-and-grace",
        "session-without-dispatch-too-old",
        "run-just-past-deadline-is-left-to-its-reconciler",
        "just-ended",
        "just-started-orphan",
    ],
)
def test_judge_reports_the_first_matching_rule(facts: ResourceFacts, rule: str | None) -> None:
    verdict = judge(facts, NOW, GRACE)
    assert verdict.rule == rule
    assert verdict.reason


def test_every_rule_of_the_store_vocabulary_has_a_check() -> None:
    from controller.store.vocabulary import REAPER_RULES

    assert sorted(rule for rule, _ in RULES) == sorted(REAPER_RULES)
