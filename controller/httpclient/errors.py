"""The root of every external service's exceptions, so a handler can classify any of them in one place.

Each service subclasses `ServiceError` into its own hierarchy (`FlyError`, `LinearError`, …) and
marks the classes that may succeed later as `temporary`; the handler boundary turns those into a
retry after `retry_after` (or its own backoff) and everything else into a permanent failure.
Messages never hold credentials: clients build them from the server's words after redaction.
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """An external service refused a call, answered nonsense, or could not be reached."""

    temporary: ClassVar[bool] = False
    """Whether the same call may succeed later without anyone changing anything."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        """The HTTP status, or None when no response arrived."""
        self.request_id = request_id
        """The service's id of the request (e.g. `fly-request-id`), for its support desk."""
        self.retry_after = retry_after
        """Seconds the server asked to wait before trying again, when it said."""

    def __repr__(self) -> str:
        fields = f"status={self.status!r}, request_id={self.request_id!r}, message={self.message!r}"
        return f"{type(self).__name__}({fields})"
