"""The Jira Cloud REST v3 client, through the Atlassian cloud-ID gateway (EXTERNAL_APIS.md §2).

Every call goes to `{gateway}/ex/jira/{cloudId}/rest/api/3/...` with `Authorization: Bearer
<JIRA_TOKEN>`, through `_call()`, which retries on the shared rules and maps Jira's error bodies to
`controller.ticketing.jira.errors`. Jira's wait signals are `Retry-After` in seconds and
`X-RateLimit-Reset` as an ISO-8601 instant (minute precision, `2026-01-02T03:04Z`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from controller.httpclient import (
    CallDescription,
    RetryPolicy,
    ServiceClient,
    ServiceError,
    Timeouts,
    seconds_until_iso_instant,
)
from controller.ticketing.jira.errors import (
    JiraAuthError,
    JiraError,
    JiraForbidden,
    JiraNotFound,
    JiraRateLimited,
    JiraUnavailable,
)

DEFAULT_GATEWAY_URL: Final = "https://api.atlassian.com"
REQUEST_ID_HEADERS: Final = ("atl-traceid", "x-arequestid")


def jira_reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until `X-RateLimit-Reset`, an ISO-8601 instant; used when `Retry-After` is absent."""
    return seconds_until_iso_instant(headers.get("x-ratelimit-reset"), now)


class JiraClient(ServiceClient):
    """Calls to one Jira Cloud site (by cloud id) through the Atlassian gateway with a Bearer token."""

    service: ClassVar[str] = "Jira"
    error_class: ClassVar[type[ServiceError]] = JiraError
    unavailable_class: ClassVar[type[ServiceError]] = JiraUnavailable

    def __init__(
        self,
        token: str,
        cloud_id: str,
        *,
        gateway_url: str = DEFAULT_GATEWAY_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        if not token.strip():
            raise ValueError("a Jira token is required (JIRA_TOKEN): it is empty")
        if not cloud_id.strip():
            raise ValueError("a Jira cloud id is required (JIRA_CLOUD_ID): it is empty")
        self.cloud_id = cloud_id.strip()
        super().__init__(
            f"{gateway_url.rstrip('/')}/ex/jira/{quote(self.cloud_id, safe='')}/rest/api/3",
            authorization=f"Bearer {token.strip()}",
            transport=transport,
            retry=retry,
            timeouts=timeouts,
            secrets=(token.strip(),),
        )

    async def myself(self) -> JiraUser:
        """The user the token acts as; also the cheapest check that token and cloud id work."""
        body, call = await self._call("GET", "myself", idempotent=True)
        return self._parse(JiraUser, body, call)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[Any, CallDescription]:
        """Send one call relative to `/rest/api/3/`; return its JSON body (None when empty, e.g. 204)."""
        response = await self._send(method, path, idempotent=idempotent, json=json, params=params)
        return self._json_body(response), CallDescription(method, response.request.url.path)

    def _reset_wait(self, headers: Mapping[str, str], now: float) -> float | None:
        return jira_reset_wait(headers, now)

    def _error_for_response(
        self, response: httpx.Response, call: CallDescription, *, retry_after: float | None, note: str | None
    ) -> ServiceError:
        status = response.status_code
        body = self._json_body(response)
        error_messages: tuple[str, ...] = ()
        errors: dict[str, str] = {}
        gateway_message = None
        if isinstance(body, dict):
            raw_messages = body.get("errorMessages")
            if isinstance(raw_messages, list):
                error_messages = tuple(self._redact(str(text)) for text in raw_messages if text)
            raw_errors = body.get("errors")
            if isinstance(raw_errors, dict):
                errors = {str(field): self._redact(str(text)) for field, text in raw_errors.items()}
            if isinstance(body.get("message"), str):
                gateway_message = self._redact(body["message"])
        parts = [*error_messages, *(f"{field}: {text}" for field, text in errors.items())]
        said = "; ".join(parts) or gateway_message or self._excerpt(response) or response.reason_phrase
        message = f"Jira answered {status} to {call}: {said}"
        if note:
            message += f" ({note})"
        request_id = next((response.headers[name] for name in REQUEST_ID_HEADERS if name in response.headers), None)
        return _error_class_for(status)(
            message,
            status=status,
            request_id=request_id,
            retry_after=retry_after,
            error_messages=error_messages,
            errors=errors,
        )


def _error_class_for(status: int) -> type[JiraError]:
    if status == 401:
        return JiraAuthError
    if status == 403:
        return JiraForbidden
    if status == 404:
        return JiraNotFound
    if status == 429:
        return JiraRateLimited
    if status >= 500:
        return JiraUnavailable
    return JiraError
