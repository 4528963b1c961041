"""Linear: the GraphQL client (the Linear `TicketSource`), its documents, results and exceptions."""

from controller.ticketing.linear.client import (
    COMMENT_ID_NAMESPACE,
    DEFAULT_AI_LABEL,
    DEFAULT_ENDPOINT,
    DEFAULT_WORKING_LABEL,
    MAX_PAGE_SIZE,
    LinearClient,
    linear_reset_wait,
)
from controller.ticketing.linear.documents import VIEWER_QUERY
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
from controller.ticketing.linear.models import LinearComment, LinearLabel, LinearViewer

__all__ = [
    "COMMENT_ID_NAMESPACE",
    "DEFAULT_AI_LABEL",
    "DEFAULT_ENDPOINT",
    "DEFAULT_WORKING_LABEL",
    "MAX_PAGE_SIZE",
    "VIEWER_QUERY",
    "LinearAuthError",
    "LinearClient",
    "LinearComment",
    "LinearError",
    "LinearErrorDetail",
    "LinearForbidden",
    "LinearInvalidInput",
    "LinearLabel",
    "LinearQueryError",
    "LinearRateLimited",
    "LinearUnavailable",
    "LinearViewer",
    "linear_reset_wait",
]
