"""Linear: the GraphQL client and its exceptions."""

from controller.ticketing.linear.client import (
    DEFAULT_ENDPOINT,
    VIEWER_QUERY,
    LinearClient,
    LinearViewer,
    linear_reset_wait,
)
from controller.ticketing.linear.errors import (
    LinearAuthError,
    LinearError,
    LinearErrorDetail,
    LinearForbidden,
    LinearInvalidInput,
    LinearQueryError,
    LinearRateLimited,
    LinearUnavailable,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "VIEWER_QUERY",
    "LinearAuthError",
    "LinearClient",
    "LinearError",
    "LinearErrorDetail",
    "LinearForbidden",
    "LinearInvalidInput",
    "LinearQueryError",
    "LinearRateLimited",
    "LinearUnavailable",
    "LinearViewer",
    "linear_reset_wait",
]
