"""When review feedback on a bot-opened pull request becomes the next review run, as a table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.operator.reviews.feedback import BATCH_WINDOW, ReviewVerdict, review_decision
from controller.store import ReviewFeedback, TrackedPullRequest

T0 = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
PULL = TrackedPullRequest(
    repo="acme/web",
    number=7,
    url="https://github.com/acme/web/pull/7",
    head_branch="ai/eng-1",
    issue_id="uuid-1",
    identifier="ENG-1",
    title="t",
    issue_url="u",
    team_key="ENG",
    provider="linear",
    state="open",
    job_status="completed",
    iteration=1,
    last_dispatch_name="eng-1-implementation-1",
    last_dispatched_at=T0,
    created_at=T0,
    updated_at=T0,
)


def feedback(kind: str = "review", at: datetime = T0) -> ReviewFeedback:
    return ReviewFeedback(
        id=1,
        repo="acme/web",
        number=7,
        kind=kind,  # type: ignore[arg-type]
        author="ada",
        body="b",
        url="u",
        received_at=at,
        dispatch_name=None,
    )


LATER = T0 + BATCH_WINDOW


@pytest.mark.parametrize(
    ("items", "pull", "limit", "now", "verdict", "iteration"),
    [
        ([feedback()], PULL, 3, LATER, ReviewVerdict.DISPATCH, 2),
        ([feedback(), feedback("comment", T0 + timedelta(seconds=5))], PULL, 3, LATER, ReviewVerdict.WAIT, 0),
        ([feedback("review-comment")], PULL, 3, LATER, ReviewVerdict.DISPATCH, 2),
        ([feedback("comment")], PULL, 3, LATER + timedelta(hours=1), ReviewVerdict.WAIT, 0),
        ([feedback()], PULL, 3, T0 + timedelta(seconds=5), ReviewVerdict.WAIT, 0),
        ([feedback()], replace(PULL, job_status="running"), 3, LATER, ReviewVerdict.WAIT, 0),
        ([feedback()], replace(PULL, iteration=3), 3, LATER, ReviewVerdict.EXHAUSTED, 0),
        ([feedback()], replace(PULL, iteration=2), 3, LATER, ReviewVerdict.DISPATCH, 3),
        ([feedback()], replace(PULL, state="merged"), 3, LATER, ReviewVerdict.DROP, 0),
        ([feedback()], replace(PULL, job_status="review_failed"), 3, LATER, ReviewVerdict.DROP, 0),
        ([feedback()], None, 3, LATER, ReviewVerdict.DROP, 0),
        ([feedback()], PULL, None, LATER, ReviewVerdict.DROP, 0),
    ],
    ids=[
        "review-after-the-window",
        "a-comment-within-the-window-keeps-the-batch-open",
        "review-comment",
        "comments-alone-never-start-a-run",
        "within-the-window",
        "a-run-is-working",
        "iterations-used-up",
        "last-iteration",
        "merged",
        "already-failed-review",
        "untracked",
        "mapping-gone",
    ],
)
def test_review_decision(
    items: list[ReviewFeedback], pull: Any, limit: int | None, now: datetime, verdict: ReviewVerdict, iteration: int
) -> None:
    decision = review_decision(items, pull, limit, now)

    assert (decision.verdict, decision.iteration) == (verdict, iteration)
