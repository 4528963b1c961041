"""What can go wrong talking to Jira Cloud, as exceptions carrying Jira's `errorMessages` and `errors`.

Jira answers errors as `{"errorMessages": [...], "errors": {field: message}}`; the Atlassian
gateway in front of it answers its own failures (401 for a token or scope it rejects) as
`{"code": 401, "message": "..."}`. Both shapes are read; any 401 is a credential failure whatever
its body (EXTERNAL_APIS.md §2.1, §2.8). No httpx exception leaves `controller.ticketing.jira`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from controller.httpclient import ServiceError


class JiraError(ServiceError):
    """Jira (or its gateway) refused a call or answered something that is not its documented shape."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        error_messages: tuple[str, ...] = (),
        errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id, retry_after=retry_after)
        self.error_messages = error_messages
        self.errors = dict(errors or {})
        """Field id → message, for rejected input."""


class JiraAuthError(JiraError):
    """401: the token is missing, expired, revoked, or not valid for this site or scope."""


class JiraForbidden(JiraError):
    """403: the token works but lacks a permission (admin endpoints, project permissions)."""


class JiraNotFound(JiraError):
    """404: missing, or not visible to this user (Jira does not tell the two apart), or unknown cloud id."""


class JiraRateLimited(JiraError):
    """429: a burst, per-issue or quota limiter refused the call; `retry_after` is Jira's wait."""

    temporary: ClassVar[bool] = True


class JiraUnavailable(JiraError):
    """5xx (503 may carry `Retry-After`) or no answer at all: the call may succeed later."""

    temporary: ClassVar[bool] = True


class JiraTransitionNotAvailable(JiraError):
    """The workflow offers this user no transition from the issue's status to the wanted one.

    Transitions are per status and per user (EXTERNAL_APIS.md §2.4), so this is a configuration
    problem for a person to fix in Jira, not something a retry changes.
    """

    def __init__(self, issue: str, wanted: str, *, current: str, available: tuple[str, ...]) -> None:
        if available:
            offered = "offers only transitions to " + ", ".join(repr(name) for name in available)
        else:
            offered = (
                "offers this user no transition at all (does the JIRA_TOKEN user have the Transition issues "
                "permission?)"
            )
        super().__init__(
            f"Jira issue {issue} cannot move to status {wanted!r}: from its status {current!r} the workflow {offered}; "
            f"add a transition to {wanted!r} to the project's workflow"
        )
        self.issue = issue
        self.wanted = wanted
        self.current = current
        self.available = available
        """The names of the statuses the issue could move to instead."""
