"""The Linear GraphQL client (EXTERNAL_APIS.md §1): transport, auth, errors and rate limits.

Every call is one `_graphql()` request: it returns `data` or raises a `controller.ticketing.linear.errors`
exception, also when Linear answers HTTP 200 with `errors`. Queries are idempotent and retried;
mutations pass `idempotent=False` unless they are naturally idempotent (label and state changes)
or carry a client-chosen id. Rate limits are Linear's own: `RATELIMITED` at HTTP 400 (or 429),
with resets in epoch **milliseconds**.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import httpx
from pydantic import BaseModel, ConfigDict

from controller.httpclient import (
    CallDescription,
    RetryPolicy,
    ServiceClient,
    ServiceError,
    Timeouts,
    seconds_until_epoch_ms,
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

DEFAULT_ENDPOINT: Final = "https://api.linear.app/graphql"
RATE_LIMIT_BUDGETS: Final = ("requests", "complexity", "endpoint-requests")
"""Each budget has `X-RateLimit-<budget>-Remaining` and `-Reset` (epoch ms) headers."""
RATE_LIMITED_CODE: Final = "RATELIMITED"
RATE_LIMITED_TYPE: Final = "ratelimited"

VIEWER_QUERY: Final = "query Viewer { viewer { id name email } }"

_AUTH_CODES: Final = frozenset({"AUTHENTICATION_ERROR"})
_AUTH_TYPES: Final = frozenset({"authentication error"})
_FORBIDDEN_CODES: Final = frozenset({"FORBIDDEN"})
_FORBIDDEN_TYPES: Final = frozenset({"forbidden"})
_INPUT_CODES: Final = frozenset({"INPUT_ERROR", "INVALID_INPUT"})
_INPUT_TYPES: Final = frozenset({"invalid input"})


class LinearViewer(BaseModel):
    """The user the API key belongs to."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: str
    email: str


class _ViewerData(BaseModel):
    viewer: LinearViewer


def linear_reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the latest reset among exhausted budgets; None when no budget says it is spent.

    Resets are epoch milliseconds. A budget that still has room does not explain the refusal, so
    its reset is no reason to wait.
    """
    waits = []
    for budget in RATE_LIMIT_BUDGETS:
        remaining = _number(headers.get(f"x-ratelimit-{budget}-remaining"))
        if remaining is None or remaining > 0:
            continue
        wait = seconds_until_epoch_ms(headers.get(f"x-ratelimit-{budget}-reset"), now)
        if wait is not None:
            waits.append(wait)
    return max(waits, default=None)


class LinearClient(ServiceClient):
    """Calls to Linear's GraphQL endpoint with a personal API key (or `Bearer <OAuth token>`)."""

    service: ClassVar[str] = "Linear"
    error_class: ClassVar[type[ServiceError]] = LinearError
    unavailable_class: ClassVar[type[ServiceError]] = LinearUnavailable

    def __init__(
        self,
        api_key: str,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        """`api_key` is sent verbatim: a personal key as it is, an OAuth token as `Bearer <token>`."""
        key = api_key.strip()
        if not key:
            raise ValueError("a Linear API key is required (LINEAR_API_KEY): it is empty")
        if key.lower().startswith("bearer lin_api_"):
            raise ValueError(
                "a Linear personal API key (lin_api_…) goes into Authorization as it is: remove the "
                "'Bearer ' prefix from LINEAR_API_KEY (Linear answers 400 INPUT_ERROR to it)"
            )
        url = httpx.URL(endpoint)
        super().__init__(
            str(url.copy_with(path="/", query=None, fragment=None)),
            authorization=key,
            transport=transport,
            retry=retry,
            timeouts=timeouts,
        )
        self._path = url.path

    async def viewer(self) -> LinearViewer:
        """Who the key belongs to; also the cheapest check that the key works."""
        data = await self._graphql(VIEWER_QUERY, operation_name="Viewer")
        return self._parse(_ViewerData, data, CallDescription("POST", self._path, "Viewer")).viewer

    async def _graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Run one document; return its `data`, or raise when Linear reported any error."""
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        if operation_name:
            payload["operationName"] = operation_name
        response = await self._send("POST", self._path, idempotent=idempotent, json=payload, operation=operation_name)
        call = CallDescription("POST", response.request.url.path, operation_name)
        body = self._json_body(response)
        if not isinstance(body, dict):
            raise LinearError(
                f"Linear answered {call} with a body that is not GraphQL: {self._excerpt(response)}",
                status=response.status_code,
            )
        details = self._error_details(body.get("errors"))
        data = body.get("data")
        if details:
            raise self._error_from_details(
                response.status_code, details, call, data=data if isinstance(data, dict) else None
            )
        if not isinstance(data, dict):
            raise LinearError(f"Linear answered {call} with neither data nor errors", status=response.status_code)
        return data

    def _is_rate_limited(self, response: httpx.Response) -> bool:
        if response.status_code == 429:
            return True
        body = None if response.is_success else self._json_body(response)
        return isinstance(body, dict) and any(
            detail.code == RATE_LIMITED_CODE or detail.type == RATE_LIMITED_TYPE
            for detail in self._error_details(body.get("errors"))
        )

    def _reset_wait(self, headers: Mapping[str, str], now: float) -> float | None:
        return linear_reset_wait(headers, now)

    def _error_for_response(
        self, response: httpx.Response, call: CallDescription, *, retry_after: float | None, note: str | None
    ) -> ServiceError:
        body = self._json_body(response)
        details = self._error_details(body.get("errors")) if isinstance(body, dict) else ()
        if not details:
            said = self._excerpt(response) or response.reason_phrase
            details = (LinearErrorDetail(message=said),)
        return self._error_from_details(response.status_code, details, call, retry_after=retry_after, note=note)

    def _error_from_details(
        self,
        status: int,
        details: tuple[LinearErrorDetail, ...],
        call: CallDescription,
        *,
        data: dict[str, Any] | None = None,
        retry_after: float | None = None,
        note: str | None = None,
    ) -> LinearError:
        first = details[0]
        message = f"Linear answered {status} to {call}: {first.message}"
        if first.code:
            message += f" [{first.code}]"
        if len(details) > 1:
            message += f" (and {len(details) - 1} more errors)"
        if note:
            message += f" ({note})"
        return _error_class_for(status, details)(
            message, status=status, retry_after=retry_after, errors=details, data=data
        )

    def _error_details(self, errors: object) -> tuple[LinearErrorDetail, ...]:
        """The `errors` array as details, redacted; anything malformed in it is skipped, not trusted."""
        if not isinstance(errors, list):
            return ()
        details = []
        for error in errors:
            if not isinstance(error, dict):
                continue
            extensions = error.get("extensions")
            extensions = extensions if isinstance(extensions, dict) else {}
            path = error.get("path")
            presentable = extensions.get("userPresentableMessage")
            details.append(
                LinearErrorDetail(
                    message=self._redact(str(error.get("message") or "no message")),
                    code=_text(extensions.get("code")),
                    type=_text(extensions.get("type")),
                    path=tuple(part for part in path if isinstance(part, str | int)) if isinstance(path, list) else (),
                    user_presentable_message=self._redact(presentable) if isinstance(presentable, str) else None,
                )
            )
        return tuple(details)


def _error_class_for(status: int, details: tuple[LinearErrorDetail, ...]) -> type[LinearError]:
    codes = {detail.code for detail in details if detail.code}
    types = {detail.type for detail in details if detail.type}
    if RATE_LIMITED_CODE in codes or RATE_LIMITED_TYPE in types or status == 429:
        return LinearRateLimited
    if codes & _AUTH_CODES or types & _AUTH_TYPES or status == 401:
        return LinearAuthError
    if codes & _FORBIDDEN_CODES or types & _FORBIDDEN_TYPES or status == 403:
        return LinearForbidden
    if status >= 500:
        return LinearUnavailable
    if codes & _INPUT_CODES or types & _INPUT_TYPES:
        return LinearInvalidInput
    if codes or types or status in (200, 400):
        return LinearQueryError
    return LinearError


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None
