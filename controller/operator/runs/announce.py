"""The chat notification of a run that ended, from the facts its close-out gathered."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from controller.notify import DispatchRef, Notification, NotificationKind, Notifier, TicketRef, notify_safely
from controller.operator.runs.messages import notification_kind
from controller.operator.runs.reconciler import EndedRun

logger = logging.getLogger("controller.operator")


def run_announcer(notifier: Notifier, tenant: str | None) -> Callable[[EndedRun], Awaitable[None]]:
    """The chat notification of a run that ended."""

    async def announce(ended: EndedRun) -> None:
        issue = ended.spec.issue
        notification = Notification(
            kind=NotificationKind(notification_kind(ended.phase)),
            dispatch=DispatchRef(
                name=ended.dispatch_name,
                kind=ended.spec.kind,
                iteration=ended.spec.iteration,
                repo=ended.repo,
                ticket=TicketRef(identifier=issue.identifier, title=issue.title, url=issue.url),
                pr_url=ended.pull_request_url,
                duration=ended.duration,
            ),
            error_reason=ended.error_reason,
            error_message=ended.error_message,
            tenant=tenant,
        )
        await notify_safely(notifier, notification, logger)

    return announce
