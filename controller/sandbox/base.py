"""What every sandbox shares: serving on loopback, a request log, injected faults, outgoing webhooks.

A sandbox is a stateful aiohttp server speaking one external service's HTTP contract
(EXTERNAL_APIS.md) closely enough that the real clients cannot tell it from the service in the
cases it implements. Tests and `ai-implement dev` start it with `async with sandbox.running() as
url`, seed its state through its methods, inject faults with `inject()`, and read what clients
sent from `requests`. The request log keeps headers as sent, credentials included: it exists for
assertions and is never written to a logger. Sandboxes of services that call back (webhooks) queue
their deliveries in a `WebhookOutbox`, which tests flush when they want the receiver to see them.
"""

from __future__ import annotations

import abc
import asyncio
import json
import math
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import httpx
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


RequestPredicate = Callable[[RecordedRequest], bool]


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
    where: RequestPredicate | None = field(default=None, compare=False)
    """Only requests this predicate accepts, for services with one path for every call (GraphQL:
    `controller.sandbox.linear.graphql_operation("CreateLabel")`); None matches any."""

    @classmethod
    def rate_limited(
        cls,
        *,
        status: int | None = None,
        wait: float | None = None,
        method: str | None = None,
        path: str | None = None,
        where: RequestPredicate | None = None,
    ) -> Fault:
        return cls(FaultKind.RATE_LIMITED, status=status, wait=wait, method=method, path=path, where=where)

    @classmethod
    def unavailable(
        cls,
        status: int = 503,
        *,
        wait: float | None = None,
        after_handler: bool = False,
        method: str | None = None,
        path: str | None = None,
        where: RequestPredicate | None = None,
    ) -> Fault:
        return cls(
            FaultKind.UNAVAILABLE,
            status=status,
            wait=wait,
            after_handler=after_handler,
            method=method,
            path=path,
            where=where,
        )

    @classmethod
    def disconnect(
        cls,
        *,
        after_handler: bool = False,
        method: str | None = None,
        path: str | None = None,
        where: RequestPredicate | None = None,
    ) -> Fault:
        return cls(FaultKind.DISCONNECT, after_handler=after_handler, method=method, path=path, where=where)

    def matches(self, method: str, path: str, request: RecordedRequest | None = None) -> bool:
        return (
            (self.method is None or self.method.upper() == method.upper())
            and (self.path is None or self.path == path)
            and (self.where is None or (request is not None and self.where(request)))
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

    def take(self, request: RecordedRequest) -> Fault | None:
        for armed in self.armed:
            if armed.fault.matches(request.method, request.path, request):
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
        self.serving_seconds = 0.0
        """Time spent answering requests; benchmarks subtract it from their clients' time in one process."""
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
        started = time.perf_counter()
        try:
            return await self._answer(request, handler)
        finally:
            self.serving_seconds += time.perf_counter() - started

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=MultiDictProxy(MultiDict(request.query)),
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            body=body,
        )
        self.requests.append(recorded)
        fault = self._faults.take(recorded)
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


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of a webhook delivery and what the receiver answered; tests read these to assert."""

    delivery_id: str
    url: str
    body: bytes
    """The exact bytes sent: what the signature was computed over."""
    headers: Mapping[str, str]
    sent_at: float
    status: int | None
    """The receiver's HTTP status; None when no answer came (connection refused, timeout)."""
    response: str
    """The receiver's body, or what went wrong when there was no answer."""
    accepted: bool
    """Whether the service counts this attempt as delivered (Linear: HTTP 200 within the timeout)."""

    def json(self) -> Any:
        return json.loads(self.body)


WebhookRenderer = Callable[[float, str], tuple[bytes, dict[str, str]]]
"""Builds the body and headers of an attempt from its time (epoch seconds) and its delivery id:
services that stamp and sign each attempt (Linear's `webhookTimestamp`) render every retry anew,
and a test can render a copy as of another time or under another id."""


@dataclass
class WebhookDelivery:
    """One event for one subscriber, with every attempt made to deliver it."""

    id: str
    url: str
    event: str
    render: WebhookRenderer = field(repr=False)
    attempts: list[WebhookAttempt] = field(default_factory=list)
    due_at: float | None = None
    """When the next automatic attempt is due; None once delivered, given up, or never automatic."""
    automatic_attempts: int = 0
    """Attempts the outbox made on its own (first try and retries), not replays a test asked for."""

    @property
    def delivered(self) -> bool:
        return any(attempt.accepted for attempt in self.attempts)

    @property
    def last_attempt(self) -> WebhookAttempt | None:
        return self.attempts[-1] if self.attempts else None


class WebhookOutbox:
    """The outgoing webhooks of one sandbox: queued when state changes, sent when the test says so.

    Sending is explicit (`await flush()`) so that a test decides when a receiver sees an event and
    can assert on the answers right after; `background=True` sends as soon as an event is queued,
    for `ai-implement dev`, where no test drives the loop. A failed attempt is retried by a later
    `flush()` once the clock has passed the service's next retry delay, as the real services do.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        retry_delays: Sequence[float] = (),
        timeout: float = 5.0,
        accepts: Callable[[int], bool] = lambda status: 200 <= status < 300,
        transport: httpx.AsyncBaseTransport | None = None,
        background: bool = False,
    ) -> None:
        """`retry_delays` are seconds after each failed attempt before the next; their count caps retries."""
        self.clock = clock
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.accepts = accepts
        self.transport = transport
        self.background = background
        self.deliveries: list[WebhookDelivery] = []
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[list[WebhookAttempt]]] = set()
        self._http: httpx.AsyncClient | None = None

    def enqueue(
        self, url: str, event: str, render: WebhookRenderer, *, delivery_id: str | None = None, automatic: bool = True
    ) -> WebhookDelivery:
        """Queue a delivery due now (in background mode, start sending it at once).

        `automatic=False` records a delivery that only `send()` ever sends: a test's forged or
        tampered copy of a real one, which the service itself would never retry.
        """
        delivery = WebhookDelivery(
            id=delivery_id or str(uuid.uuid4()),
            url=url,
            event=event,
            render=render,
            due_at=self.clock() if automatic else None,
        )
        self.deliveries.append(delivery)
        if automatic and self.background:
            self._send_in_background()
        return delivery

    @property
    def pending(self) -> list[WebhookDelivery]:
        """Deliveries with an automatic attempt still to come (due now or after a retry delay)."""
        return [delivery for delivery in self.deliveries if delivery.due_at is not None]

    async def flush(self) -> list[WebhookAttempt]:
        """Send every delivery that is due, in the order queued; return the attempts made."""
        async with self._lock:
            now = self.clock()
            due = [d for d in self.deliveries if d.due_at is not None and d.due_at <= now]
            attempts = []
            for delivery in due:
                attempt = await self._attempt(delivery, *delivery.render(self.clock(), delivery.id))
                delivery.automatic_attempts += 1
                retries_made = delivery.automatic_attempts - 1
                if attempt.accepted or retries_made >= len(self.retry_delays):
                    delivery.due_at = None
                else:
                    delivery.due_at = attempt.sent_at + self.retry_delays[retries_made]
                attempts.append(attempt)
            return attempts

    async def send(self, delivery: WebhookDelivery, body: bytes, headers: Mapping[str, str]) -> WebhookAttempt:
        """One attempt with exactly these bytes and headers (replays, tampering), recorded on `delivery`."""
        async with self._lock:
            return await self._attempt(delivery, body, headers)

    async def aclose(self) -> None:
        """Wait for background sends and close the connection pool; the outbox opens a new one if used again."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _send_in_background(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, delivery: WebhookDelivery, body: bytes, headers: Mapping[str, str]) -> WebhookAttempt:
        sent_at = self.clock()
        status: int | None = None
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout, transport=self.transport, follow_redirects=False)
        try:
            answer = await self._http.post(delivery.url, content=body, headers=dict(headers))
            status, response = answer.status_code, answer.text
        except httpx.HTTPError as error:
            response = f"{type(error).__name__}: {error}"
        attempt = WebhookAttempt(
            delivery_id=delivery.id,
            url=delivery.url,
            body=body,
            headers=dict(headers),
            sent_at=sent_at,
            status=status,
            response=response,
            accepted=status is not None and self.accepts(status),
        )
        delivery.attempts.append(attempt)
        return attempt


class WebhookSandbox(Sandbox):
    """A sandbox whose changes queue signed webhook deliveries, sent when the test says so.

    Subclasses create `self.outbox` and say how a delivery signed with the wrong secret looks.
    """

    outbox: WebhookOutbox
    signature_header: ClassVar[str]
    stale_age: ClassVar[float]
    """How old `deliver_stale` makes a delivery by default: past the receiver's freshness window."""

    @abc.abstractmethod
    def _signed_with_another_secret(self, body: bytes) -> str:
        """The signature header's value for `body` under a secret the receiver does not have."""

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every delivery queued so far, each with its attempts and the receiver's answers."""
        return self.outbox.deliveries

    async def flush_webhooks(self) -> list[WebhookAttempt]:
        """Send every delivery due now (first attempts, and retries whose delay has passed on the clock)."""
        return await self.outbox.flush()

    async def redeliver(self, delivery: WebhookDelivery) -> WebhookAttempt:
        """Send the last attempt of `delivery` again, byte for byte and header for header: a replay."""
        last = delivery.last_attempt
        if last is None:
            body, headers = delivery.render(self.clock(), delivery.id)
        else:
            body, headers = last.body, dict(last.headers)
        return await self.outbox.send(delivery, body, headers)

    async def deliver_stale(self, delivery: WebhookDelivery, *, age: float | None = None) -> WebhookAttempt:
        """A correctly signed copy under a new delivery id, stamped `age` seconds (default `stale_age`) ago."""
        copy = self.outbox.enqueue(delivery.url, delivery.event, delivery.render, automatic=False)
        stamped = self.clock() - (self.stale_age if age is None else age)
        return await self.outbox.send(copy, *delivery.render(stamped, copy.id))

    async def deliver_with_bad_signature(self, delivery: WebhookDelivery) -> WebhookAttempt:
        """A fresh copy under a new delivery id, signed with a secret the receiver does not know."""
        copy = self.outbox.enqueue(delivery.url, delivery.event, delivery.render, automatic=False)
        body, headers = delivery.render(self.clock(), copy.id)
        headers[self.signature_header] = self._signed_with_another_secret(body)
        return await self.outbox.send(copy, body, headers)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Serve as every sandbox does; on the way out, wait for webhooks still being sent."""
        async with super().running() as url:
            try:
                yield url
            finally:
                await self.outbox.aclose()
