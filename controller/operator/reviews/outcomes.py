"""What people are told when a pull request is merged or closed, or runs out of review iterations."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from controller.httpclient import ServiceError
from controller.notify import DispatchRef, Notification, NotificationKind, Notifier, TicketRef, notify_safely
from controller.operator.runs.ticket_updates import TicketCannotMove, TicketGone, TicketUpdater
from controller.resources.dispatch import IssueRef
from controller.store import TrackedPullRequest

logger = logging.getLogger("controller.operator")


def ticket_closer(tickets: Mapping[str, TicketUpdater]) -> Callable[[TrackedPullRequest], Awaitable[None]]:
    """Merged: the ticket completes. Closed unmerged: its marker comes off. Both get a comment, once."""

    async def close(pull: TrackedPullRequest) -> None:
        updater = tickets.get(pull.provider)
        if updater is None:
            return
        issue = IssueRef(
            provider=pull.provider, id=pull.issue_id, identifier=pull.identifier, title=pull.title, url=pull.issue_url
        )
        try:
            if pull.state == "merged":
                text = f"The pull request {pull.url} was merged: AI-Implement's work on this ticket is done."
                try:
                    await updater.complete(issue)
                except TicketCannotMove as error:
                    text += f" {error}."
            else:
                await updater.release(issue, None)
                text = (
                    f"The pull request {pull.url} was closed without merging: AI-Implement stopped working on it. "
                    "Move the ticket back to where it belongs if it is still in progress."
                )
            await updater.comment(issue, text, f"{pull.repo}#{pull.number}:{pull.state}")
        except (TicketGone, TicketCannotMove, ServiceError) as error:
            if isinstance(error, ServiceError) and error.temporary:
                raise
            logger.warning("the ticket of %s#%s could not be updated: %s", pull.repo, pull.number, error)

    return close


def review_failure_reporter(
    notifier: Notifier, tenant: str | None, tickets: Mapping[str, TicketUpdater]
) -> Callable[[TrackedPullRequest, str], Awaitable[None]]:
    """A comment on the ticket and a chat message when a pull request runs out of review iterations."""

    async def report(pull: TrackedPullRequest, reason: str) -> None:
        issue = IssueRef(
            provider=pull.provider, id=pull.issue_id, identifier=pull.identifier, title=pull.title, url=pull.issue_url
        )
        text = f"AI-Implement stopped iterating on {pull.url}: {reason}. A person needs to take the review from here."
        updater = tickets.get(pull.provider)
        if updater is not None:
            await updater.comment(issue, text, f"{pull.repo}#{pull.number}:review-failed")
        notification = Notification(
            kind=NotificationKind.REVIEW_FAILED,
            dispatch=DispatchRef(
                name=pull.last_dispatch_name or f"{pull.repo}#{pull.number}",
                kind="review",
                iteration=pull.iteration,
                repo=pull.repo,
                ticket=TicketRef(identifier=pull.identifier, title=pull.title, url=pull.issue_url),
                pr_url=pull.url,
            ),
            error_reason="ReviewIterationsExhausted",
            error_message=reason,
            tenant=tenant,
        )
        await notify_safely(notifier, notification, logger)

    return report
