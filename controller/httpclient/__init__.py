"""Shared plumbing of every external service client: retries, wait signals, timeouts, error roots.

Each service (`controller.fly`, `controller.ticketing.linear`, …) subclasses `ServiceClient` and
`ServiceError`; the decisions (`decide_retry`, the wait parsers) are pure and tested on tables.
"""

from controller.httpclient.client import (
    USER_AGENT,
    AuthorizationHeader,
    CallDescription,
    ServiceClient,
    Timeouts,
)
from controller.httpclient.errors import ServiceError
from controller.httpclient.retry import (
    Outcome,
    RetryDecision,
    RetryPolicy,
    TransportFailure,
    classify_transport_error,
    decide_retry,
)
from controller.httpclient.waits import (
    ResetParser,
    seconds_from_retry_after,
    seconds_until_epoch_ms,
    seconds_until_epoch_seconds,
    seconds_until_iso_instant,
    signalled_wait,
)

__all__ = [
    "USER_AGENT",
    "AuthorizationHeader",
    "CallDescription",
    "Outcome",
    "ResetParser",
    "RetryDecision",
    "RetryPolicy",
    "ServiceClient",
    "ServiceError",
    "Timeouts",
    "TransportFailure",
    "classify_transport_error",
    "decide_retry",
    "seconds_from_retry_after",
    "seconds_until_epoch_ms",
    "seconds_until_epoch_seconds",
    "seconds_until_iso_instant",
    "signalled_wait",
]
