"""An in-memory copy of one kind, kept in step with the cluster by LIST then WATCH.

Reads served from here cost no API call, which is what lets the admin API list mappings on every
request and the operator route tickets through an index of mappings. It is the reflector pattern
of client-go: list to get a snapshot and its resourceVersion, watch from there, list again when
the server says the version is gone (410), back off and re-watch when the connection breaks.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import Final, Literal, Protocol, Self, TypeAlias, TypeVar

from controller.kube.client import KubeObject, ObjectList, WatchEvent
from controller.kube.errors import GoneError, KubeApiError, KubeError
from controller.kube.kinds import ApiResource

T = TypeVar("T")
logger = logging.getLogger("controller.kube")

ChangeType: TypeAlias = Literal["ADDED", "MODIFIED", "DELETED"]
ChangeCallback: TypeAlias = Callable[[ChangeType, KubeObject], Awaitable[None] | None]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]
ObjectKey: TypeAlias = tuple[str, str]
"""(namespace, name); the namespace is "" for cluster-scoped kinds."""

RETRY_DELAYS_SECONDS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits after consecutive failures; the last one repeats until a list or watch succeeds again."""

DEFAULT_WATCH_TIMEOUT_SECONDS: Final = 300


class WatchingClient(Protocol):
    """The two calls an informer makes; `KubeClient` provides them, a test fake can too."""

    async def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> ObjectList: ...

    def watch(
        self,
        resource: ApiResource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_seconds: int = DEFAULT_WATCH_TIMEOUT_SECONDS,
        label_selector: str | None = None,
    ) -> AsyncGenerator[WatchEvent, None]: ...


def key_of(obj: KubeObject) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


class Informer:
    """A watched cache of one kind in one namespace (or all: namespace None).

    `synced` turns true after the first complete list and stays true while reconnecting: the
    cache is then stale but still the best answer. Objects handed out are copies.
    """

    def __init__(
        self,
        client: WatchingClient,
        resource: ApiResource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        watch_timeout_seconds: int = DEFAULT_WATCH_TIMEOUT_SECONDS,
        retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not retry_delays:
            raise ValueError("retry_delays must list at least one delay")
        self.resource = resource
        self.namespace = namespace
        self._client = client
        self._label_selector = label_selector
        self._watch_timeout_seconds = watch_timeout_seconds
        self._retry_delays = tuple(retry_delays)
        self._sleep = sleep
        self._objects: dict[ObjectKey, KubeObject] = {}
        self._parsed: dict[Callable[[KubeObject], object], dict[ObjectKey, tuple[str, object]]] = {}
        self._derived: dict[Callable[[Informer], object], tuple[int, object]] = {}
        self._revision = 0
        """Counts the changes applied to the cache; what `derived` remembers is as new as this."""
        self._callbacks: list[ChangeCallback] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._consecutive_failures = 0
        self._resource_version: str | None = None
        """Where the next watch starts; None when the cache must be listed afresh."""

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, timeout: float) -> bool:  # noqa: ASYNC109 - False on expiry, not an error
        """Whether the first list completed within `timeout` seconds; readiness waits on this."""
        try:
            await asyncio.wait_for(self._synced.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def items(self) -> list[KubeObject]:
        """A snapshot sorted by namespace and name."""
        return [copy.deepcopy(self._objects[key]) for key in sorted(self._objects)]

    def project(self, view: Callable[[KubeObject], T]) -> list[T]:
        """`view` of each cached object, without copying them: for counts and summaries over large caches.

        `view` reads the cache itself, so it must neither change nor keep what it is given (return
        plain values such as names and phases).
        """
        return [view(self._objects[key]) for key in sorted(self._objects)]

    def parsed(self, parse: Callable[[KubeObject], T]) -> list[T]:
        """`parse` of each cached object, remembered until the object's resourceVersion changes.

        For typed views read on every request (the API's and admin pages' mappings): a cache of
        1,000 objects is then neither copied nor validated again while nothing changes. `parse`
        must be one long-lived function that neither changes nor keeps what it is given; what it
        returns is shared between callers, so treat it as read-only.
        """
        remembered = self._parsed.setdefault(parse, {})
        views: list[T] = []
        for key in sorted(self._objects):
            obj = self._objects[key]
            version = str(obj.get("metadata", {}).get("resourceVersion") or "")
            hit = remembered.get(key)
            if hit is None or not version or hit[0] != version:
                hit = (version, parse(obj))
                remembered[key] = hit
            views.append(hit[1])  # type: ignore[arg-type]  # stored by this same `parse`
        if len(remembered) > len(self._objects):
            for gone in [key for key in remembered if key not in self._objects]:
                del remembered[gone]
        return views

    @property
    def revision(self) -> int:
        """Goes up with every change applied to the cache: two reads at the same revision saw the same objects."""
        return self._revision

    def derived(self, compute: Callable[[Informer], T]) -> T:
        """`compute(self)`, remembered until the cache next changes.

        For indexes over the whole cache that requests read (the mappings sorted by team key): they
        are built once per change instead of once per request, so a request that reads a page costs
        the page. `compute` must be one long-lived function; what it returns is shared between
        callers, so treat it as read-only.
        """
        hit = self._derived.get(compute)
        if hit is not None and hit[0] == self._revision:
            return hit[1]  # type: ignore[return-value]  # stored by this same `compute`
        value = compute(self)
        self._derived[compute] = (self._revision, value)
        return value

    def get(self, name: str, namespace: str | None = None) -> KubeObject | None:
        """The cached object, looked up in the informer's own namespace unless another is given."""
        found = self._objects.get((namespace or self.namespace or "", name))
        return copy.deepcopy(found) if found is not None else None

    def on_change(self, callback: ChangeCallback) -> None:
        """Call `callback(change, object)` after each change is applied to the cache, in order.

        Sync and async callbacks are both awaited before the next event, so a slow one delays the
        cache; one that raises is logged and does not stop the informer.
        """
        self._callbacks.append(callback)

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError(f"the informer of {self._description} is already running")
        self._task = asyncio.create_task(self._run(), name=f"informer {self._description}")

    async def stop(self) -> None:
        """Cancel the watch and wait for it to end, so no task outlives the informer."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            logger.error("the informer of %s had stopped on its own", self._description, exc_info=task.exception())

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def _description(self) -> str:
        return f"{self.resource.plural} in {self.namespace or 'all namespaces'}"

    async def _run(self) -> None:
        while True:
            action = "listing" if self._resource_version is None else "watching"
            try:
                if self._resource_version is None:
                    await self._relist()
                if not await self._follow():
                    await self._sleep(self._next_retry_delay())
            except GoneError as error:
                logger.info("listing %s again: its watch version is gone (%s)", self._description, error.message)
                self._resource_version = None
            except KubeError as error:
                delay = self._next_retry_delay()
                logger.warning("%s %s failed (%s); retrying in %gs", action, self._description, _reason(error), delay)
                await self._sleep(delay)
            except Exception:
                delay = self._next_retry_delay()
                logger.exception("unexpected error %s %s; listing again in %gs", action, self._description, delay)
                self._resource_version = None
                await self._sleep(delay)

    def _next_retry_delay(self) -> float:
        """Longer after each consecutive failure; any list or event that gets through resets it."""
        delay = self._retry_delays[min(self._consecutive_failures, len(self._retry_delays) - 1)]
        self._consecutive_failures += 1
        return delay

    async def _relist(self) -> None:
        """Replace the cache with a fresh list and report the difference as changes."""
        listed = await self._client.list(self.resource, self.namespace, label_selector=self._label_selector)
        self._consecutive_failures = 0
        fresh = {key_of(obj): without_managed_fields(obj) for obj in listed.items}
        previous, self._objects = self._objects, fresh
        self._revision += 1
        self._resource_version = listed.resource_version
        for key, obj in fresh.items():
            before = previous.get(key)
            if before is None:
                await self._notify("ADDED", obj)
            elif _version_of(before) != _version_of(obj):
                await self._notify("MODIFIED", obj)
        for key, obj in previous.items():
            if key not in fresh:
                await self._notify("DELETED", obj)
        if not self.synced:
            logger.info("synced %d %s", len(fresh), self._description)
            self._synced.set()

    async def _follow(self) -> bool:
        """Apply watch events until the server ends the stream, remembering where to continue from.

        Whether any event came: a stream that keeps ending empty is backed off like a failure, so a
        proxy that closes watches at once cannot turn this loop into a busy one.
        """
        received = False
        events = self._client.watch(
            self.resource,
            self.namespace,
            resource_version=self._resource_version,
            timeout_seconds=self._watch_timeout_seconds,
            label_selector=self._label_selector,
        )
        async with aclosing(events):
            async for event in events:
                received = True
                self._consecutive_failures = 0
                self._resource_version = event.resource_version or self._resource_version
                if event.type == "BOOKMARK":
                    continue
                key = key_of(event.object)
                if event.type == "DELETED":
                    self._objects.pop(key, None)
                else:
                    self._objects[key] = without_managed_fields(event.object)
                self._revision += 1
                await self._notify(event.type, event.object)
        return received

    async def _notify(self, change: ChangeType, obj: KubeObject) -> None:
        for callback in self._callbacks:
            try:
                result = callback(change, copy.deepcopy(obj))
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("a change callback of %s failed on %s %s/%s", self._description, change, *key_of(obj))


def without_managed_fields(obj: KubeObject) -> KubeObject:
    """The object as cached: `metadata.managedFields` (server-side apply's bookkeeping, often half of an
    object's size) is read by nobody here, and at 10,000 Dispatches it was tens of megabytes."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return obj


def _version_of(obj: KubeObject) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _reason(error: KubeError) -> str:
    if not isinstance(error, KubeApiError) or error.status_code is None:
        return str(error)
    if error.reason:
        return f"{error.status_code} {error.reason}: {error}"
    return f"{error.status_code}: {error}"
