"""What can go wrong talking to Linear, as exceptions carrying the GraphQL errors Linear returned.

Linear reports almost everything inside the GraphQL envelope, often with HTTP 400 (rate limits,
bad input) and sometimes with HTTP 200 next to partial `data` (EXTERNAL_APIS.md §1.5). The class
is chosen from `extensions.code`/`extensions.type` first and the HTTP status second, so the same
condition maps to the same class whatever status carried it. No httpx exception leaves
`controller.ticketing.linear`: transport failures become `LinearUnavailable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from controller.httpclient import ServiceError


@dataclass(frozen=True)
class LinearErrorDetail:
    """One entry of the GraphQL `errors` array, reduced to what callers decide on."""

    message: str
    code: str | None = None
    """`extensions.code`, upper snake case: `RATELIMITED`, `AUTHENTICATION_ERROR`, `INVALID_INPUT`, …"""
    type: str | None = None
    """`extensions.type`, lower-case words (what Linear's SDK reads): `ratelimited`, `invalid input`, …"""
    path: tuple[str | int, ...] = ()
    user_presentable_message: str | None = None


class LinearError(ServiceError):
    """Linear refused a call, answered with GraphQL errors, or answered something unreadable."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        errors: tuple[LinearErrorDetail, ...] = (),
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id, retry_after=retry_after)
        self.errors = errors
        self.data = data
        """Whatever `data` came with the errors: Linear may answer part of a query."""

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(detail.code for detail in self.errors if detail.code)


class LinearAuthError(LinearError):
    """401 or `AUTHENTICATION_ERROR`: the key is missing, revoked, or sent with the wrong scheme."""


class LinearForbidden(LinearError):
    """403 or `FORBIDDEN`: the key is valid but may not see or change this entity."""


class LinearRateLimited(LinearError):
    """`RATELIMITED` (HTTP 400 or 429): the user's request or complexity budget is spent for now."""

    temporary: ClassVar[bool] = True


class LinearUnavailable(LinearError):
    """5xx or no answer at all: Linear may recover, the call may succeed later."""

    temporary: ClassVar[bool] = True


class LinearQueryError(LinearError):
    """The document, its variables or its execution failed: fix the query, retrying will not help."""


class LinearInvalidInput(LinearQueryError):
    """`INPUT_ERROR`/`INVALID_INPUT`: an argument was rejected, e.g. a malformed issue id."""
