"""Following bot-opened pull requests: review feedback becomes the next `review` Dispatch, and a
merge or close updates the ticket.

The GitHub webhook only records feedback; the active operator looks at it every few seconds.
Feedback that arrives together (a review and its comments, several comments in a row) makes one
iteration: a pull request's feedback is taken up once none has arrived for `BATCH_WINDOW`. The
decision is `review_decision`, a pure function; `ReviewProcessor` does what it says.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from controller.clock import Clock
from controller.config import Settings
from controller.kube import DISPATCHES, KubeClient
from controller.kube.errors import AlreadyExistsError
from controller.operator.periodic import every
from controller.operator.tickets.mappings import (
    IndexedMapping,
    MappingDirectory,
    MappingIndex,
    effective_runner_mode,
)
from controller.resources import dispatch_name_for, effective_max_iterations
from controller.resources.dispatch import IssueRef, PullRequestRef, label_value, printable, pull_request_dispatch
from controller.store import ReviewFeedback, Store, TrackedPullRequest, runner_mode_in_force

logger = logging.getLogger("controller.operator")

BATCH_WINDOW = timedelta(seconds=20)
"""Feedback waits this long for more to arrive before one review run takes it all up."""
TRIGGERING_KINDS = frozenset({"review", "review-comment"})
"""Reviews and review comments start an iteration; conversation comments ride along with the next."""


class ReviewVerdict(StrEnum):
    WAIT = "wait"
    DISPATCH = "dispatch"
    EXHAUSTED = "exhausted"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    verdict: ReviewVerdict
    iteration: int = 0
    reason: str = ""


def review_decision(
    feedback: Sequence[ReviewFeedback],
    pull: TrackedPullRequest | None,
    max_iterations: int | None,
    now: datetime,
    window: timedelta = BATCH_WINDOW,
) -> ReviewDecision:
    """What to do with a pull request's waiting feedback."""
    if pull is None or max_iterations is None:
        return ReviewDecision(ReviewVerdict.DROP, reason="the pull request or its mapping is no longer tracked")
    if pull.state != "open":
        return ReviewDecision(ReviewVerdict.DROP, reason=f"the pull request is {pull.state}")
    if pull.job_status == "review_failed":
        return ReviewDecision(ReviewVerdict.DROP, reason="the pull request already used up its review iterations")
    if not any(item.kind in TRIGGERING_KINDS for item in feedback):
        return ReviewDecision(ReviewVerdict.WAIT, reason="only conversation comments so far")
    if pull.job_status == "running":
        return ReviewDecision(ReviewVerdict.WAIT, reason="a run is working on the pull request")
    if now - max(item.received_at for item in feedback) < window:
        return ReviewDecision(ReviewVerdict.WAIT, reason="more feedback may follow")
    if pull.iteration >= max_iterations:
        return ReviewDecision(
            ReviewVerdict.EXHAUSTED, reason=f"all {max_iterations} iterations (maxIterations) were used"
        )
    return ReviewDecision(ReviewVerdict.DISPATCH, iteration=pull.iteration + 1)


ReviewFailed = Callable[[TrackedPullRequest, str], Awaitable[None]]
"""Tell people (ticket comment, chat) that a pull request ran out of review iterations."""
PullRequestClosed = Callable[[TrackedPullRequest], Awaitable[None]]
"""Update the ticket of a merged (complete it) or closed-unmerged (release it) pull request."""


@dataclass
class ReviewProcessor:
    settings: Settings
    store: Store
    kube: KubeClient
    mappings: MappingDirectory
    clock: Clock
    review_failed: ReviewFailed | None = None
    pull_request_closed: PullRequestClosed | None = None
    interval: float = 2.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def process_waiting(self) -> list[str]:
        """Act on every pull request whose feedback is ready; returns the Dispatches created."""
        created: list[str] = []
        grouped: dict[tuple[str, int], list[ReviewFeedback]] = defaultdict(list)
        for item in await self.store.waiting_review_feedback():
            grouped[(item.repo, item.number)].append(item)
        index = self.mappings.index()
        for (repo, number), feedback in grouped.items():
            try:
                name = await self._take_up(repo, number, feedback, index)
            except Exception:  # one pull request's trouble must not hold up the others
                logger.exception("could not act on the review feedback of %s#%s; trying again", repo, number)
                continue
            if name is not None:
                created.append(name)
        return created

    async def _take_up(self, repo: str, number: int, feedback: list[ReviewFeedback], index: MappingIndex) -> str | None:
        """Act on one pull request's waiting feedback; the Dispatch created, if one was."""
        pull = await self.store.tracked_pull_request(repo, number)
        mapping = _mapping_of(index, pull)
        limit = effective_max_iterations(mapping.spec) if mapping is not None else None
        decision = review_decision(feedback, pull, limit, self.clock())
        ids = [item.id for item in feedback]
        if decision.verdict is ReviewVerdict.DROP:
            await self.store.assign_review_feedback(ids, f"dropped: {decision.reason}"[:200])
        elif decision.verdict is ReviewVerdict.EXHAUSTED and pull is not None:
            await self._exhausted(pull, ids, decision.reason)
        elif decision.verdict is ReviewVerdict.DISPATCH and pull is not None and mapping is not None:
            return await self._dispatch(pull, mapping, decision.iteration, ids)
        return None

    async def process_closed(self) -> int:
        """Update the tickets of pull requests merged or closed since the last look; returns how many."""
        handled = 0
        for pull in await self.store.closed_pull_requests_to_handle():
            if self.pull_request_closed is not None:
                try:
                    await self.pull_request_closed(pull)
                except Exception:  # retried next round; the others go on
                    logger.exception("could not update the ticket of %s#%s; trying again", pull.repo, pull.number)
                    continue
            if pull.state == "merged":
                await self.store.update_pull_request(pull.repo, pull.number, now=self.clock(), job_status="completed")
            await self.store.mark_close_handled(pull.repo, pull.number, self.clock())
            handled += 1
        return handled

    async def run(self) -> None:
        await every(self.interval, self.process_once, "handling review feedback", sleep=self.sleep)

    async def process_once(self) -> None:
        await self.process_closed()
        await self.process_waiting()

    async def _dispatch(self, pull: TrackedPullRequest, mapping: IndexedMapping, iteration: int, ids: list[int]) -> str:
        runner_mode = effective_runner_mode((await runner_mode_in_force(self.store, self.settings)).mode, mapping.spec)
        image = mapping.spec.runner.session_image or self.settings.session_image
        body = review_dispatch(pull, mapping, iteration, runner_mode, image)
        name = dispatch_name_for(pull.identifier, "review", iteration)
        try:
            await self.kube.create(DISPATCHES, mapping.namespace, body)
        except AlreadyExistsError:
            logger.info("review dispatch %s already exists", name, extra={"issue": pull.identifier})
        await self.store.assign_review_feedback(ids, name)
        await self.store.track_pull_request(
            repo=pull.repo,
            number=pull.number,
            url=pull.url,
            head_branch=pull.head_branch,
            issue_id=pull.issue_id,
            identifier=pull.identifier,
            title=pull.title,
            issue_url=pull.issue_url,
            team_key=pull.team_key,
            provider=pull.provider,
            job_status="running",
            iteration=iteration,
            dispatch_name=name,
            now=self.clock(),
        )
        await self.store.log_pull_request_dispatch(
            pull,
            kind="review",
            iteration=iteration,
            runner_mode=runner_mode,
            session_image=image,
            dispatch_name=name,
            now=self.clock(),
        )
        logger.info("dispatched %s for review feedback", name, extra={"issue": pull.identifier})
        return name

    async def _exhausted(self, pull: TrackedPullRequest, ids: list[int], reason: str) -> None:
        """Tell people first (their comment is keyed, so a retry does not repeat it), then record it."""
        logger.warning("%s#%s failed review: %s", pull.repo, pull.number, reason, extra={"issue": pull.identifier})
        if self.review_failed is not None:
            await self.review_failed(pull, reason)
        await self.store.update_pull_request(pull.repo, pull.number, now=self.clock(), job_status="review_failed")
        await self.store.assign_review_feedback(ids, "review-failed")


def review_dispatch(
    pull: TrackedPullRequest, mapping: IndexedMapping, iteration: int, runner_mode: str, image: str
) -> dict[str, Any]:
    """The review Dispatch of one iteration on the pull request."""
    return pull_request_dispatch(
        namespace=mapping.namespace,
        mapping_name=mapping.name,
        mapping_uid=mapping.uid,
        issue=IssueRef(
            provider=pull.provider,
            id=pull.issue_id,
            identifier=pull.identifier,
            title=printable(pull.title, 1024),
            url=printable(pull.issue_url, 2048),
        ),
        team_key=pull.team_key,
        kind="review",
        iteration=iteration,
        runner_mode=runner_mode,
        session_image=image,
        pull_request=PullRequestRef(number=pull.number, url=pull.url, head_branch=pull.head_branch),
        label=label_value,
    )


def _mapping_of(index: MappingIndex, pull: TrackedPullRequest | None) -> IndexedMapping | None:
    if pull is None:
        return None
    return next((mapping for mapping in index.readable if mapping.spec.team_key == pull.team_key), None)
