"""Errors classified once, where kopf's handlers meet them: retry later, or stop and say why.

A temporary error (the service or the API server may answer later) is retried with exponential
backoff, or after the service's own `Retry-After` when it gave one. A permanent one (the request
itself is wrong: refused credentials, a rejected object, an unreadable resource) is never retried:
the handler stops, puts the reason on the object as a condition and posts a Warning Event. An error
nobody classified is a bug; it is retried with backoff (and logged with its traceback), so that a
fix deployed later picks it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import ValidationError

from controller.httpclient import ServiceError
from controller.kube.errors import ConflictError, KubeApiError, KubeUnavailableError, NotFoundError

BACKOFF_BASE_SECONDS: Final = 1.0
BACKOFF_MAX_SECONDS: Final = 300.0


class UnreadableResource(ValueError):
    """An object the API server accepted that the operator cannot read: a permanent error."""


@dataclass(frozen=True, slots=True)
class Verdict:
    temporary: bool
    reason: str
    """CamelCase, as a condition's or an Event's reason."""
    delay: float = 0.0
    """Seconds before the next try (temporary only)."""
    expected: bool = True
    """False for an error nobody classified: logged with its traceback."""


def backoff(attempt: int, base: float = BACKOFF_BASE_SECONDS, ceiling: float = BACKOFF_MAX_SECONDS) -> float:
    """1, 2, 4, … seconds for attempts 1, 2, 3, …, never more than `ceiling`."""
    return min(base * 2.0 ** min(max(attempt - 1, 0), 30), ceiling)


def classify(error: BaseException, attempt: int) -> Verdict:
    """What to do about `error`, the `attempt`-th failure in a row of the same work."""
    wait = backoff(attempt)
    if isinstance(error, ServiceError):
        if not error.temporary:
            return Verdict(temporary=False, reason="ServiceRefused")
        return Verdict(temporary=True, reason="ServiceUnavailable", delay=_honoured(error.retry_after, wait))
    if isinstance(error, (KubeUnavailableError, ConflictError, NotFoundError)):
        # NotFound: a lookup raced a deletion or a cache; the next look settles it.
        return Verdict(temporary=True, reason="KubernetesUnavailable", delay=wait)
    if isinstance(error, KubeApiError):
        return Verdict(temporary=False, reason="KubernetesRefused")
    if isinstance(error, (ValidationError, UnreadableResource)):
        return Verdict(temporary=False, reason="InvalidResource")
    if isinstance(error, (OSError, TimeoutError)):
        return Verdict(temporary=True, reason="NetworkError", delay=wait)
    return Verdict(temporary=True, reason="UnexpectedError", delay=wait, expected=False)


def _honoured(retry_after: float | None, wait: float) -> float:
    """The service's own wait when it gave one (bounded like ours), else our backoff."""
    if retry_after is None or retry_after < 0:
        return wait
    return min(retry_after, BACKOFF_MAX_SECONDS)
