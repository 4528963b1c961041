"""Whether to try an HTTP call again, and how long to wait first: pure decisions, table-tested.

A client reduces each attempt to an `Outcome` (a status, or how the transport failed, plus the wait
the server asked for) and asks `decide_retry()`. The rules, shared by every external service:

- A transport failure before anything reached the server (connection refused, connect timeout, no
  pooled connection free) is always safe to retry. One after the request may have been sent (read
  timeout, reset connection) is retried only for idempotent calls.
- A rate-limit refusal (429, or the service's own marker such as Linear's 400 + `RATELIMITED`) is
  retried for every call: the server refused without acting.
- 5xx (but 501 and 505, which no retry fixes) is retried only for idempotent calls: the server may
  have acted before failing.
- The wait is what the server asked for (already converted to seconds by the caller, whose unit
  rules differ per service) or else exponential backoff with full jitter. A server that asks for
  longer than `RetryPolicy.max_wait` is not waited for here: the call fails with that wait attached,
  so that the caller can requeue instead of holding a handler for minutes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

import httpx

NOT_RETRYABLE_SERVER_ERRORS = frozenset({501, 505})
"""Not Implemented and HTTP Version Not Supported describe the request, not a passing condition."""


class TransportFailure(Enum):
    """How far a request got before the transport failed: what decides whether a retry is safe."""

    NOT_SENT = "not sent"
    """Nothing reached the server (connection refused, connect or pool timeout): always safe to retry."""
    MAYBE_SENT = "maybe sent"
    """The server may have received and acted on the request (read timeout, connection reset)."""
    PERMANENT = "permanent"
    """Retrying cannot help (an unsupported URL scheme, a request httpx refuses to build)."""


@dataclass(frozen=True)
class Outcome:
    """One attempt reduced to the facts the decision needs: either a response or a transport failure."""

    status: int | None = None
    rate_limited: bool = False
    """The service's own rate-limit marker was present (429 counts as rate limited by itself)."""
    signalled_wait: float | None = None
    """Seconds the server asked the client to wait, already converted from the service's unit."""
    failure: TransportFailure | None = None

    @property
    def is_rate_limited(self) -> bool:
        return self.rate_limited or self.status == 429


@dataclass(frozen=True)
class RetryDecision:
    """Try again after `wait` seconds, or stop; `reason` is for the log line and the error message."""

    retry: bool
    wait: float
    reason: str
    exhausted: bool = False
    """The failure was retryable but the policy stopped: out of attempts, or asked to wait too long."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a client tries; the time seams (`sleep`, `clock`, `random`) are injected by tests."""

    max_attempts: int = 4
    """Attempts in total, the first included; 1 turns retries off."""
    base_delay: float = 0.5
    """Backoff ceiling of the first retry, in seconds; it doubles on each further retry."""
    max_delay: float = 30.0
    """Cap of the backoff ceiling, in seconds."""
    max_wait: float = 60.0
    """Longest server-requested wait slept through; a longer one fails the call with that wait attached."""
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    """Wall-clock seconds since the epoch, to turn a server's reset timestamp into a wait."""
    random: Callable[[], float] = field(default=random.random, repr=False)
    """A uniform draw from [0, 1) for the jitter."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts={self.max_attempts} must be at least 1 (1 means no retries)")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_wait < 0:
            raise ValueError("base_delay, max_delay and max_wait must not be negative")

    def backoff(self, attempt: int) -> float:
        """Full jitter: spread retries of many clients over the whole window instead of in lockstep."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(attempt - 1, 0))
        return self.random() * ceiling


def classify_transport_error(error: httpx.HTTPError) -> TransportFailure:
    """Whether the request could have reached the server: only then is a retry a possible duplicate."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransportFailure.NOT_SENT
    if isinstance(error, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.ProxyError):
        return TransportFailure.PERMANENT
    if isinstance(error, httpx.TransportError):
        return TransportFailure.MAYBE_SENT
    return TransportFailure.PERMANENT


def decide_retry(policy: RetryPolicy, outcome: Outcome, *, attempt: int, idempotent: bool) -> RetryDecision:
    """Apply the module's rules to attempt number `attempt` (1-based) of a call."""
    retryable, reason = _retryable(outcome, idempotent=idempotent)
    if not retryable:
        return RetryDecision(retry=False, wait=0.0, reason=reason)
    if attempt >= policy.max_attempts:
        return RetryDecision(
            retry=False, wait=0.0, reason=f"{reason}; gave up after {attempt} attempts", exhausted=True
        )
    if outcome.signalled_wait is not None:
        wait = max(outcome.signalled_wait, 0.0)
        if wait > policy.max_wait:
            return RetryDecision(
                retry=False,
                wait=0.0,
                reason=f"{reason}; the server asked for {wait:.1f} s, over max_wait={policy.max_wait:g} s",
                exhausted=True,
            )
        return RetryDecision(retry=True, wait=wait, reason=f"{reason}; waiting as the server asked")
    return RetryDecision(retry=True, wait=policy.backoff(attempt), reason=f"{reason}; backing off")


def _retryable(outcome: Outcome, *, idempotent: bool) -> tuple[bool, str]:
    if outcome.failure is TransportFailure.NOT_SENT:
        return True, "the request never reached the server"
    if outcome.failure is TransportFailure.MAYBE_SENT:
        if idempotent:
            return True, "the connection failed during an idempotent call"
        return False, "the connection failed after the request may have reached the server"
    if outcome.failure is TransportFailure.PERMANENT:
        return False, "the request cannot be sent"
    if outcome.is_rate_limited:
        return True, "rate limited"
    status = outcome.status or 0
    if status >= 500 and status not in NOT_RETRYABLE_SERVER_ERRORS:
        if idempotent:
            return True, f"server error {status}"
        return False, f"server error {status} after the server may have acted"
    return False, f"status {status} is final"
