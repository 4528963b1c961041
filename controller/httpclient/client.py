"""The base every external service client extends: one `httpx.AsyncClient`, retries, and safe errors.

A service client is short: it names its service, its exception classes, how to read its error
bodies and its rate-limit signal, and then writes one method per call on top of `_send()`. The base
owns everything the services share: per-phase timeouts, the retry loop of `controller.httpclient.retry`,
one log line per retry (logger `controller.httpclient`: service, method, path without query,
status, wait; never headers), and the rule that no httpx exception and no credential leaves it.
"""

from __future__ import annotations

import abc
import json
import logging
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Final, Self, TypeVar

import httpx
import pydantic

from controller import __version__
from controller.httpclient.errors import ServiceError
from controller.httpclient.retry import (
    Outcome,
    RetryDecision,
    RetryPolicy,
    TransportFailure,
    classify_transport_error,
    decide_retry,
)
from controller.httpclient.waits import signalled_wait

logger = logging.getLogger("controller.httpclient")

USER_AGENT: Final = f"ai-implement/{__version__}"
REDACTED: Final = "[redacted]"
_EXCERPT_CHARS: Final = 300

_ModelT = TypeVar("_ModelT", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class Timeouts:
    """Seconds per phase: a slow body is not a dead host, so each phase gets its own bound."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0
    """Waiting for a free connection of the client's pool."""

    def as_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


class AuthorizationHeader(httpx.Auth):
    """Send one fixed `Authorization` value; a flow, so a refreshing scheme can replace it later."""

    def __init__(self, value: str) -> None:
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._value
        yield request

    def __repr__(self) -> str:
        return f"{type(self).__name__}({REDACTED})"


@dataclass(frozen=True)
class CallDescription:
    """What a log line or an error message may say about a call: never its headers or query string."""

    method: str
    path: str
    operation: str | None = None

    def __str__(self) -> str:
        text = f"{self.method} {self.path}"
        return f"{text} ({self.operation})" if self.operation else text


class ServiceClient(abc.ABC):
    """One service, one connection pool; open with `async with` or close with `aclose()`."""

    service: ClassVar[str]
    """The service's name as people write it, for messages and the `service` log field."""
    error_class: ClassVar[type[ServiceError]]
    """The service's root exception, raised for answers that are not the documented shape."""
    unavailable_class: ClassVar[type[ServiceError]]
    """The service's temporary exception, raised when the transport fails."""

    def __init__(
        self,
        base_url: str,
        *,
        authorization: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        """`secrets` (and `authorization`) are redacted from every message the client builds."""
        self._retry = retry or RetryPolicy()
        known = {secret for secret in (*secrets, authorization) if secret}
        self._secrets = tuple(sorted(known, key=len, reverse=True))
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL as error:
            raise ValueError(f"{self.service} base URL {base_url!r} is not a URL: {error}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{self.service} base URL {base_url!r} must be an http(s) URL with a host")
        self._http = httpx.AsyncClient(
            base_url=url,
            transport=transport,
            timeout=(timeouts or Timeouts()).as_httpx(),
            auth=AuthorizationHeader(authorization) if authorization else None,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        operation: str | None = None,
    ) -> httpx.Response:
        """Send until success or a final failure; return a successful response or raise the service's error.

        `idempotent` is the caller's promise that repeating the call after the server acted is harmless.
        """
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request(method, path, json=json, params=params)
            call = CallDescription(method, request.url.path, operation)
            try:
                response = await self._http.send(request)
            except httpx.HTTPError as error:
                failure = classify_transport_error(error)
                decision = decide_retry(self._retry, Outcome(failure=failure), attempt=attempt, idempotent=idempotent)
                if not decision.retry:
                    raise self._error_for_transport(error, call, decision, failure) from error
                self._log_retry(call, type(error).__name__, decision, attempt)
                await self._retry.sleep(decision.wait)
                continue
            rate_limited = self._is_rate_limited(response)
            if response.is_success and not rate_limited:
                return response
            wait = signalled_wait(response.headers, self._retry.clock(), self._reset_wait)
            outcome = Outcome(status=response.status_code, rate_limited=rate_limited, signalled_wait=wait)
            decision = decide_retry(self._retry, outcome, attempt=attempt, idempotent=idempotent)
            if not decision.retry:
                note = decision.reason if decision.exhausted else None
                raise self._error_for_response(response, call, retry_after=wait, note=note)
            self._log_retry(call, str(response.status_code), decision, attempt)
            await self._retry.sleep(decision.wait)

    def _is_rate_limited(self, response: httpx.Response) -> bool:
        """Whether the service refused for rate; 429 always counts, services add their own markers."""
        return response.status_code == 429

    def _reset_wait(self, headers: Mapping[str, str], now: float) -> float | None:
        """The service's own wait signal besides `Retry-After`, in seconds from `now`; none by default."""
        return None

    @abc.abstractmethod
    def _error_for_response(
        self, response: httpx.Response, call: CallDescription, *, retry_after: float | None, note: str | None
    ) -> ServiceError:
        """Turn a final failed response into the service's exception; each service reads its own body."""

    def _error_for_transport(
        self, error: httpx.HTTPError, call: CallDescription, decision: RetryDecision, failure: TransportFailure
    ) -> ServiceError:
        """Temporary unless no retry can ever help (a URL scheme httpx cannot speak, a malformed request)."""
        detail = self._redact(str(error)) or "no detail"
        message = f"could not reach {self.service} for {call}: {type(error).__name__}: {detail} ({decision.reason})"
        error_class = self.error_class if failure is TransportFailure.PERMANENT else self.unavailable_class
        return error_class(message)

    def _redact(self, text: str) -> str:
        """Servers sometimes echo what they were sent; nothing the client was given leaves in a message."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _excerpt(self, response: httpx.Response) -> str:
        """A short, one-line, redacted piece of a body that is not the service's documented error shape."""
        text = " ".join(response.text.split())
        if len(text) > _EXCERPT_CHARS:
            text = text[:_EXCERPT_CHARS] + "…"
        return self._redact(text)

    def _json_body(self, response: httpx.Response) -> Any:
        """The body as JSON, or None when it is empty or not JSON (a proxy's HTML error page)."""
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def _parse(self, model: type[_ModelT], data: Any, call: CallDescription, *, status: int = 200) -> _ModelT:
        """Validate a success body; a wrong shape names the fields but never their values."""
        try:
            return model.model_validate(data)
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
                for problem in error.errors(include_input=False, include_url=False)
            )
            raise self.error_class(
                f"{self.service} answered {call} with a body that is not a {model.__name__}: {problems}",
                status=status,
            ) from None

    def _log_retry(self, call: CallDescription, what: str, decision: RetryDecision, attempt: int) -> None:
        logger.warning(
            "%s %s failed with %s; retrying in %.3f s (attempt %d of %d): %s",
            self.service,
            call,
            what,
            decision.wait,
            attempt + 1,
            self._retry.max_attempts,
            decision.reason,
            extra={
                "service": self.service,
                "http_method": call.method,
                "http_path": call.path,
                "http_operation": call.operation,
                "http_status": what,
                "wait_seconds": decision.wait,
                "attempt": attempt,
            },
        )
