"""What can go wrong talking to Fly.io, as exceptions that carry Fly's own words and request id.

Fly answers errors as `{"error": "...", "status"?: "...", "message"?: "..."}` and puts a
`fly-request-id` on every response; both travel on the exception so a log line can name them.
No httpx exception leaves `controller.fly`: transport failures become `FlyUnavailable`.
"""

from __future__ import annotations

from typing import ClassVar

from controller.httpclient import ServiceError


class FlyError(ServiceError):
    """Fly refused a call or answered something that is not its documented shape."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        error: str | None = None,
        error_status: str | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id, retry_after=retry_after)
        self.error = error
        """The body's `error` text, as Fly wrote it."""
        self.error_status = error_status
        """The body's machine-readable `status`, e.g. `insufficient_capacity` or `name_taken`."""


class FlyAuthError(FlyError):
    """401/403: the token is missing, malformed, revoked, or not allowed on this app."""


class FlyNotFound(FlyError):
    """404: the app (or a resource inside it) does not exist, or this token cannot see it."""


class FlySecretNotFound(FlyNotFound):
    """404 on a secret: deleting or reading a name the app does not have."""


class FlyRateLimited(FlyError):
    """429: too many calls for this action; `retry_after` only if Fly said so (its header is undocumented)."""

    temporary: ClassVar[bool] = True


class FlyUnavailable(FlyError):
    """5xx or no answer at all: the platform may recover, the call may succeed later."""

    temporary: ClassVar[bool] = True
