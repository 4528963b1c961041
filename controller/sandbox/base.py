"""What every sandbox shares: serving on loopback, a request log, and injected faults.

A sandbox is a stateful aiohttp server speaking one external service's HTTP contract
(EXTERNAL_APIS.md) closely enough that the real clients cannot tell it from the service in the
cases it implements. Tests and `ai-implement dev` start it with `async with sandbox.running() as
url`, seed its state through its methods, inject faults with `inject()`, and read what clients
sent from `requests`. The request log keeps headers as sent, credentials included: it exists for
assertions and is never written to a logger.
"""

from __future__ import annotations

import abc
import json
import math
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOOPBACK = "127.0.0.1"
SHUTDOWN_TIMEOUT_SECONDS = 2.0
"""How long stopping a sandbox waits for requests in flight; tests close their clients first."""


@asynccontextmanager
async def serve(app: web.Application, *, host: str = LOOPBACK) -> AsyncIterator[str]:
    """Serve `app` on a free port of `host` until the block ends; yields the base URL.

    The socket is bound before the server starts, so the port cannot be taken in between.
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
        sock.close()


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the sandbox received it."""

    method: str
    path: str
    query: MultiDictProxy[str]
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


class FaultKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    """The service's own rate-limit answer (Linear: 400 + RATELIMITED; Jira and Fly: 429)."""
    UNAVAILABLE = "unavailable"
    """A 5xx in the service's own error shape (or a proxy's plain text, where the service has one)."""
    DISCONNECT = "disconnect"
    """The connection closes without an answer."""


@dataclass(frozen=True)
class Fault:
    """A failure to answer instead of the real response; build with the class methods."""

    kind: FaultKind
    status: int | None = None
    """The HTTP status; None for the service's usual one."""
    wait: float | None = None
    """Seconds the answer asks the client to wait, written in the service's own header and unit;
    None for the service's default (which may be no wait signal at all)."""
    after_handler: bool = False
    """Let the real handler act (and change state) first, then answer with the fault: the case of a
    server that did the work but whose answer was lost."""
    method: str | None = None
    path: str | None = None
    """Only requests with this method and this exact path; None matches any."""

    @classmethod
    def rate_limited(
        cls,
        *,
        status: int | None = None,
        wait: float | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        return cls(FaultKind.RATE_LIMITED, status=status, wait=wait, method=method, path=path)

    @classmethod
    def unavailable(
        cls,
        status: int = 503,
        *,
        wait: float | None = None,
        after_handler: bool = False,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        return cls(
            FaultKind.UNAVAILABLE,
            status=status,
            wait=wait,
            after_handler=after_handler,
            method=method,
            path=path,
        )

    @classmethod
    def disconnect(cls, *, after_handler: bool = False, method: str | None = None, path: str | None = None) -> Fault:
        return cls(FaultKind.DISCONNECT, after_handler=after_handler, method=method, path=path)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method.upper()) and (
            self.path is None or self.path == path
        )


@dataclass
class _ArmedFault:
    fault: Fault
    remaining: int | None
    """How many more requests it answers; None until cleared."""


class Rejection(Exception):
    """A handler's refusal; the sandbox renders it in its service's error shape, in one place."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body
        """The exact body to send; None lets the sandbox shape `message` as its service does."""
        self.headers = dict(headers or {})


@dataclass
class _Faults:
    armed: list[_ArmedFault] = field(default_factory=list)

    def take(self, method: str, path: str) -> Fault | None:
        for armed in self.armed:
            if armed.fault.matches(method, path):
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining <= 0:
                        self.armed.remove(armed)
                return armed.fault
        return None


class Sandbox(abc.ABC):
    """One service's sandbox: state, routes, request log and faults; subclasses add the contract."""

    service: ClassVar[str]

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        """`clock` gives wall-clock epoch seconds, so tests can share one fake time with the clients."""
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self.url: str | None = None
        self._faults = _Faults()

    def inject(self, fault: Fault, *, times: int | None = 1) -> None:
        """Answer the next `times` matching requests with `fault` (None: every one until `clear_faults`).

        Faults are consumed in the order they were injected.
        """
        if times is not None and times < 1:
            raise ValueError(f"times={times} must be at least 1, or None for 'until cleared'")
        self._faults.armed.append(_ArmedFault(fault, times))

    def clear_faults(self) -> None:
        self._faults.armed.clear()

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        self._add_routes(app.router)
        return app

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Serve on a free loopback port for the block; yields (and sets `url` to) the base URL."""
        async with serve(self.build_app()) as url:
            self.url = url
            try:
                yield url
            finally:
                self.url = None

    @abc.abstractmethod
    def _add_routes(self, router: web.UrlDispatcher) -> None: ...

    @abc.abstractmethod
    def _error_body(self, status: int, message: str) -> Any:
        """The service's error body for a plain refusal (unknown route, bad request, …)."""

    @abc.abstractmethod
    def _fault_response(self, fault: Fault, request: web.Request) -> web.Response:
        """The service's answer for an injected rate limit or outage."""

    @abc.abstractmethod
    def _decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        """Headers the service puts on every response (request ids, rate-limit budgets)."""

    def _reject(self, rejection: Rejection) -> web.Response:
        body = rejection.body if rejection.body is not None else self._error_body(rejection.status, rejection.message)
        if isinstance(body, str):
            return web.Response(status=rejection.status, text=body, headers=rejection.headers)
        return web.json_response(body, status=rejection.status, headers=rejection.headers)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=MultiDictProxy(MultiDict(request.query)),
                headers=CIMultiDictProxy(CIMultiDict(request.headers)),
                body=body,
            )
        )
        fault = self._faults.take(request.method, request.path)
        response: web.StreamResponse
        if fault is not None and not fault.after_handler:
            response = self._answer_fault(fault, request)
        else:
            response = await self._handle(request, handler)
            if fault is not None:
                response = self._answer_fault(fault, request)
        self._decorate(request, response)
        return response

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except Rejection as rejection:
            return self._reject(rejection)
        except web.HTTPException as error:
            return self._reject(Rejection(error.status, error.reason))

    def _answer_fault(self, fault: Fault, request: web.Request) -> web.Response:
        if fault.kind is FaultKind.DISCONNECT:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        return self._fault_response(fault, request)


def retry_after_seconds(wait: float) -> str:
    """`Retry-After` takes whole seconds; round up so a client never comes back early."""
    return str(max(math.ceil(wait), 0))


def read_json(body: bytes) -> Any:
    """The body as JSON, or a 400 in the service's shape when it is not JSON."""
    try:
        return json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Rejection(400, f"the request body is not valid JSON: {error}") from None
