"""Pull requests runs opened, and the review feedback waiting on them (GET /api/pulls, review iterations).

A pull request is tracked from the result of the run that opened it, whether the runner reported
it or a webhook found it first (both upsert the same row, keyed by repository and number). Review
feedback is recorded as it arrives and taken up by one review run at a time.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, select, update

from controller.store.dispatch_log import DispatchLog
from controller.store.records import ReviewFeedback, TrackedPullRequest
from controller.store.tables import PullRequestRow, ReviewFeedbackRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import (
    DispatchKind,
    FeedbackKind,
    PullRequestJobStatus,
    PullRequestState,
    TicketingProvider,
)


class PullRequests(DispatchLog):
    async def track_pull_request(
        self,
        *,
        repo: str,
        number: int,
        url: str,
        head_branch: str | None,
        issue_id: str,
        identifier: str,
        title: str,
        issue_url: str,
        team_key: str,
        provider: TicketingProvider,
        job_status: PullRequestJobStatus,
        iteration: int | None,
        dispatch_name: str | None,
        now: datetime,
    ) -> TrackedPullRequest:
        """Start following a pull request, or refresh what a later run says about it (state stays).

        Repositories are keyed in lower case, as GitHub compares them. `iteration` None (a gap-fill
        run, which is numbered on its own) keeps the review count as it is.
        """
        now = as_utc(now)
        repo = repo.lower()
        changes: dict[str, object] = {
            "url": url,
            "issue_id": issue_id,
            "identifier": identifier,
            "title": title,
            "issue_url": issue_url,
            "team_key": team_key,
            "provider": provider,
            "job_status": job_status,
            "last_dispatch_name": dispatch_name,
            "last_dispatched_at": now,
            "updated_at": now,
        }
        if head_branch is not None:
            changes["head_branch"] = head_branch
        if iteration is not None:
            changes["iteration"] = iteration
        first = {"repo": repo, "number": number, "state": "open", "created_at": now, "head_branch": head_branch}
        statement = self._insert(PullRequestRow).values(first | {"iteration": iteration or 1} | changes)
        same_run = PullRequestRow.last_dispatch_name == statement.excluded.last_dispatch_name
        updates = changes | {
            "last_dispatched_at": case((same_run, PullRequestRow.last_dispatched_at), else_=now)
        }  # the same run reporting again (its result) is no new dispatch
        async with self._transaction() as session:
            await session.execute(statement.on_conflict_do_update(index_elements=["repo", "number"], set_=updates))
            row = await session.get(PullRequestRow, (repo, number), populate_existing=True)
            assert row is not None
            return _tracked(row)

    async def tracked_pull_request(self, repo: str, number: int) -> TrackedPullRequest | None:
        async with self._transaction() as session:
            row = await session.get(PullRequestRow, (repo.lower(), number))
            return _tracked(row) if row is not None else None

    async def tracked_pull_requests(self) -> Sequence[TrackedPullRequest]:
        """Every tracked pull request, the most recently dispatched first."""
        query = select(PullRequestRow).order_by(PullRequestRow.last_dispatched_at.desc(), PullRequestRow.repo)
        async with self._transaction() as session:
            return [_tracked(row) for row in await session.scalars(query)]

    async def update_pull_request(
        self,
        repo: str,
        number: int,
        *,
        now: datetime,
        state: PullRequestState | None = None,
        job_status: PullRequestJobStatus | None = None,
    ) -> bool:
        """Change a tracked pull request's state or job status; False when it is not tracked."""
        changes: dict[str, object] = {"updated_at": as_utc(now)}
        if state is not None:
            changes["state"] = state
        if job_status is not None:
            changes["job_status"] = job_status
        statement = (
            update(PullRequestRow)
            .where(PullRequestRow.repo == repo.lower(), PullRequestRow.number == number)
            .values(changes)
        )
        async with self._transaction() as session:
            return await self._rows_affected(session, statement) == 1

    async def log_pull_request_dispatch(
        self,
        pull: TrackedPullRequest,
        *,
        kind: DispatchKind,
        iteration: int,
        runner_mode: str,
        session_image: str,
        dispatch_name: str,
        now: datetime,
    ) -> None:
        """The dispatch-log line of a review or gap-fill run on a tracked pull request."""
        await self.append_dispatch_log(
            now=now,
            issue_id=pull.issue_id,
            identifier=pull.identifier,
            title=pull.title,
            team_key=pull.team_key,
            repo=pull.repo,
            kind=kind,
            iteration=iteration,
            runner_mode=runner_mode,
            session_image=session_image,
            status="pending",
            pull_request_url=pull.url,
            dispatch_name=dispatch_name,
        )

    async def closed_pull_requests_to_handle(self) -> Sequence[TrackedPullRequest]:
        """Merged or closed pull requests whose ticket the operator has not updated yet."""
        query = select(PullRequestRow).where(
            PullRequestRow.state.in_(("merged", "closed")), PullRequestRow.close_handled_at.is_(None)
        )
        async with self._transaction() as session:
            return [_tracked(row) for row in await session.scalars(query)]

    async def mark_close_handled(self, repo: str, number: int, now: datetime) -> bool:
        statement = (
            update(PullRequestRow)
            .where(PullRequestRow.repo == repo.lower(), PullRequestRow.number == number)
            .values(close_handled_at=as_utc(now))
        )
        async with self._transaction() as session:
            return await self._rows_affected(session, statement) == 1

    async def record_review_feedback(
        self,
        *,
        repo: str,
        number: int,
        kind: FeedbackKind,
        author: str,
        body: str,
        url: str,
        received_at: datetime,
        github_id: str | None = None,
        ignored_reason: str | None = None,
    ) -> ReviewFeedback | None:
        """Record one review, review comment or comment; None when its GitHub id was recorded before.

        Feedback with an `ignored_reason` is kept for people to see and never handed to a run.
        """
        values = {
            "repo": repo.lower(),
            "number": number,
            "kind": kind,
            "author": author,
            "body": body,
            "url": url,
            "received_at": as_utc(received_at),
            "dispatch_name": None,
            "github_id": github_id,
            "ignored_reason": ignored_reason,
        }
        statement = (
            self._insert(ReviewFeedbackRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["repo", "kind", "github_id"])
            .returning(ReviewFeedbackRow.id)
        )
        async with self._transaction() as session:
            inserted = (await session.execute(statement)).scalar_one_or_none()
        if inserted is None:
            return None
        return ReviewFeedback(
            id=inserted,
            repo=repo.lower(),
            number=number,
            kind=kind,
            author=author,
            body=body,
            url=url,
            received_at=as_utc(received_at),
            dispatch_name=None,
            github_id=github_id,
            ignored_reason=ignored_reason,
        )

    async def close_pull_request(self, repo: str, number: int, *, now: datetime, state: PullRequestState) -> bool:
        """Record a tracked pull request as merged or closed, once: a later or replayed close changes nothing."""
        statement = (
            update(PullRequestRow)
            .where(PullRequestRow.repo == repo.lower(), PullRequestRow.number == number, PullRequestRow.state == "open")
            .values(state=state, updated_at=as_utc(now))
        )
        async with self._transaction() as session:
            return await self._rows_affected(session, statement) == 1

    async def waiting_review_feedback(self) -> Sequence[ReviewFeedback]:
        """Feedback no run has taken up yet, oldest first."""
        query = (
            select(ReviewFeedbackRow)
            .where(ReviewFeedbackRow.dispatch_name.is_(None), ReviewFeedbackRow.ignored_reason.is_(None))
            .order_by(ReviewFeedbackRow.received_at, ReviewFeedbackRow.id)
        )
        async with self._transaction() as session:
            return [_feedback(row) for row in await session.scalars(query)]

    async def review_feedback_of(self, dispatch_name: str) -> Sequence[ReviewFeedback]:
        """The feedback a review run took up, oldest first."""
        query = (
            select(ReviewFeedbackRow)
            .where(ReviewFeedbackRow.dispatch_name == dispatch_name)
            .order_by(ReviewFeedbackRow.received_at, ReviewFeedbackRow.id)
        )
        async with self._transaction() as session:
            return [_feedback(row) for row in await session.scalars(query)]

    async def assign_review_feedback(self, ids: Sequence[int], dispatch_name: str) -> int:
        """Hand waiting feedback to the run that takes it up; feedback already taken stays with its run."""
        statement = (
            update(ReviewFeedbackRow)
            .where(ReviewFeedbackRow.id.in_(list(ids)), ReviewFeedbackRow.dispatch_name.is_(None))
            .values(dispatch_name=dispatch_name)
        )
        async with self._transaction() as session:
            return await self._rows_affected(session, statement)


def _tracked(row: PullRequestRow) -> TrackedPullRequest:
    return TrackedPullRequest(
        repo=row.repo,
        number=row.number,
        url=row.url,
        head_branch=row.head_branch,
        issue_id=row.issue_id,
        identifier=row.identifier,
        title=row.title,
        issue_url=row.issue_url,
        team_key=row.team_key,
        provider=row.provider,
        state=row.state,
        job_status=row.job_status,
        iteration=row.iteration,
        last_dispatch_name=row.last_dispatch_name,
        last_dispatched_at=row.last_dispatched_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _feedback(row: ReviewFeedbackRow) -> ReviewFeedback:
    return ReviewFeedback(
        id=row.id,
        repo=row.repo,
        number=row.number,
        kind=row.kind,
        author=row.author,
        body=row.body,
        url=row.url,
        received_at=row.received_at,
        dispatch_name=row.dispatch_name,
        github_id=row.github_id,
        ignored_reason=row.ignored_reason,
    )
