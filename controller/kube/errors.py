"""What can go wrong talking to the Kubernetes API, as exceptions that carry the server's `Status`.

Callers decide by class (a 404 is `NotFoundError`, a rejected spec is `InvalidError`) and relay
`message`, which the API server writes for humans. No aiohttp exception leaves this package:
transport failures become `KubeUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class KubeError(Exception):
    """Anything this package raises on purpose."""


class KubeConfigError(KubeError):
    """No usable credentials for an API server: the message says which sources were tried and why."""


@dataclass(frozen=True)
class StatusCause:
    """One reason of a failed request, e.g. one field a validation rule rejected."""

    reason: str
    message: str
    field: str


class KubeApiError(KubeError):
    """The API server refused a request or could not be asked (then `status_code` is None)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        reason: str = "",
        causes: tuple[StatusCause, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.reason = reason
        self.causes = causes

    def __repr__(self) -> str:
        fields = f"status_code={self.status_code!r}, reason={self.reason!r}, message={self.message!r}"
        return f"{type(self).__name__}({fields})"


class NotFoundError(KubeApiError):
    """404: the object (or its namespace, or its kind) does not exist."""


class ConflictError(KubeApiError):
    """409: a stale resourceVersion, a field owned by another manager, or an object that already exists."""


class AlreadyExistsError(ConflictError):
    """409 AlreadyExists: creating a deterministic name twice, which is harmless for idempotent creators."""


class GoneError(KubeApiError):
    """410: the resourceVersion a watch or a paginated list started from is no longer in etcd's history."""


class InvalidError(KubeApiError):
    """422: the API server's schema, defaults or CEL rules rejected the object; `message` says which rule."""


class UnauthorizedError(KubeApiError):
    """401: the credentials were not accepted (expired token, wrong certificate)."""


class ForbiddenError(KubeApiError):
    """403: the credentials are fine but RBAC does not allow this verb on this resource."""


class KubeUnavailableError(KubeApiError):
    """The request may succeed later: connection refused or reset, timeout, 429 or 5xx."""


_ERRORS_BY_STATUS_CODE: dict[int, type[KubeApiError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    422: InvalidError,
    429: KubeUnavailableError,
}


def error_from_status(status: Mapping[str, Any], *, status_code: int | None = None) -> KubeApiError:
    """Turn a `Status` object (from an error response or a watch ERROR event) into its exception class."""
    code = _as_int(status.get("code")) or status_code or 0
    reason = str(status.get("reason") or "")
    message = str(status.get("message") or "") or f"the API server answered {code} {reason}".rstrip()
    details = status.get("details")
    raw_causes = details.get("causes") if isinstance(details, Mapping) else None
    causes = tuple(
        StatusCause(
            reason=str(cause.get("reason", "")),
            message=str(cause.get("message", "")),
            field=str(cause.get("field", "")),
        )
        for cause in (raw_causes if isinstance(raw_causes, list) else [])
        if isinstance(cause, Mapping)
    )
    return _error_class_for(code, reason)(message, status_code=code or None, reason=reason, causes=causes)


def _error_class_for(code: int, reason: str) -> type[KubeApiError]:
    if code == 409 and reason == "AlreadyExists":
        return AlreadyExistsError
    if code >= 500:
        return KubeUnavailableError
    return _ERRORS_BY_STATUS_CODE.get(code, KubeApiError)


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
