"""An async Kubernetes API client on aiohttp: the few verbs the operator and the admin API need.

Objects travel as plain JSON dicts, the wire format, so that server-side apply and merge patches
send exactly what the caller wrote; typed models are the caller's business. Every failure is a
`controller.kube.errors` exception; nothing is retried here, because only the caller knows
whether a retry is safe (the informer retries its watch, a handler requeues).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, NamedTuple, Self, TypeAlias, get_args

import aiohttp
from yarl import URL

from controller import __version__
from controller.kube.connection import KubeConnection
from controller.kube.errors import KubeApiError, KubeUnavailableError, error_from_status
from controller.kube.kinds import ApiResource

logger = logging.getLogger("controller.kube")

KubeObject: TypeAlias = dict[str, Any]
WatchEventType: TypeAlias = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
PropagationPolicy: TypeAlias = Literal["Foreground", "Background", "Orphan"]

USER_AGENT: Final = f"ai-implement/{__version__}"
DEFAULT_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_CONNECT_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_PAGE_SIZE: Final = 500
READINESS_TIMEOUT_SECONDS: Final = 5.0
"""A probe must answer before the kubelet gives up on it, whatever the client's own timeout."""
WATCH_READ_GRACE_SECONDS: Final = 30
"""How long past its own `timeoutSeconds` a silent watch may stay open before we call it dead."""

APPLY_PATCH: Final = "application/apply-patch+yaml"
MERGE_PATCH: Final = "application/merge-patch+json"
JSON: Final = "application/json"

_WATCH_EVENT_TYPES: Final = frozenset(get_args(WatchEventType))


@dataclass(frozen=True)
class WatchEvent:
    """One line of a watch stream; a BOOKMARK's object carries only `metadata.resourceVersion`."""

    type: WatchEventType
    object: KubeObject

    @property
    def resource_version(self) -> str:
        return str(self.object.get("metadata", {}).get("resourceVersion", ""))


class ObjectList(NamedTuple):
    """A consistent snapshot: the items and the resourceVersion a watch continues from."""

    items: list[KubeObject]
    resource_version: str


@dataclass(frozen=True)
class DeletePreconditions:
    """Delete only the object we looked at: the same UID (not a re-created namesake), or the same version."""

    uid: str | None = None
    resource_version: str | None = None


class KubeClient:
    """One aiohttp session to one API server; open it with `async with`."""

    def __init__(
        self,
        connection: KubeConnection,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        """`timeout` bounds each request (a watch instead by its own `timeout_seconds`)."""
        self.connection = connection
        self._base_url = URL(connection.server)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(ssl=self.connection.ssl_context or True)
        self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT, "Accept": JSON})
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def get(self, resource: ApiResource, namespace: str | None, name: str) -> KubeObject:
        return await self._request("GET", self._url(resource, namespace, name))

    async def list(
        self,
        resource: ApiResource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> ObjectList:
        """All matching objects (namespace None: every namespace), fetched in pages of one snapshot."""
        url = self._url(resource, namespace, collection=True)
        params = _selectors(label_selector, field_selector) | {"limit": str(page_size)}
        items: list[KubeObject] = []
        while True:
            page = await self._request("GET", url, params=params)
            items.extend(_with_type(item, resource) for item in page.get("items") or [])
            metadata = page.get("metadata") or {}
            continue_token = metadata.get("continue")
            if not continue_token:
                return ObjectList(items, str(metadata.get("resourceVersion", "")))
            params = params | {"continue": str(continue_token)}

    async def create(
        self,
        resource: ApiResource,
        namespace: str | None,
        body: Mapping[str, Any],
        *,
        field_manager: str | None = None,
    ) -> KubeObject:
        """Create; an existing name raises `AlreadyExistsError`, so deterministic names make it idempotent."""
        return await self._request(
            "POST",
            self._url(resource, namespace, collection=True),
            params=_field_manager(field_manager),
            body=_typed_body(body, resource),
            content_type=JSON,
        )

    async def apply(
        self,
        resource: ApiResource,
        namespace: str | None,
        body: Mapping[str, Any],
        field_manager: str,
        *,
        force: bool = False,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> KubeObject:
        """Server-side apply: create the object or update the fields `field_manager` owns.

        Without `force`, setting a field another manager owns to another value raises `ConflictError`
        rather than taking it over; `force` takes it over, as a controller asserting its own fields does.
        `dry_run` has the API server validate (schema, CEL rules) and answer, and persist nothing.
        """
        typed = _typed_body(body, resource)
        name = typed.get("metadata", {}).get("name")
        if not name:
            raise ValueError(
                f"server-side apply needs metadata.name in the body, got metadata {typed.get('metadata')!r}"
            )
        params = {"fieldManager": field_manager} | ({"force": "true"} if force else {})
        if dry_run:
            params["dryRun"] = "All"
        return await self._request(
            "PATCH",
            self._url(resource, namespace, str(name), subresource),
            params=params,
            body=typed,
            content_type=APPLY_PATCH,
        )

    async def merge_patch(
        self,
        resource: ApiResource,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
        field_manager: str | None = None,
    ) -> KubeObject:
        """JSON merge patch (RFC 7386): keys set to None are removed; subresource "status" patches status."""
        return await self._request(
            "PATCH",
            self._url(resource, namespace, name, subresource),
            params=_field_manager(field_manager),
            body=patch,
            content_type=MERGE_PATCH,
        )

    async def delete(
        self,
        resource: ApiResource,
        namespace: str | None,
        name: str,
        *,
        preconditions: DeletePreconditions | None = None,
        propagation_policy: PropagationPolicy | None = None,
    ) -> KubeObject:
        """Delete; the answer is the object (with deletionTimestamp while finalizers hold it) or a Status."""
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if preconditions is not None:
            options["preconditions"] = {
                key: value
                for key, value in (
                    ("uid", preconditions.uid),
                    ("resourceVersion", preconditions.resource_version),
                )
                if value is not None
            }
        return await self._request("DELETE", self._url(resource, namespace, name), body=options, content_type=JSON)

    async def watch(
        self,
        resource: ApiResource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Changes after `resource_version`, until the server ends the stream after `timeout_seconds`.

        Close it early with `contextlib.aclosing`. An ERROR event raises its error: `GoneError` when
        the version has been compacted away, which means: list again.
        """
        session = self._open_session()
        url = self._url(resource, namespace, collection=True)
        params = _selectors(label_selector, field_selector) | {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if resource_version:
            params["resourceVersion"] = resource_version
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self._connect_timeout, sock_read=timeout_seconds + WATCH_READ_GRACE_SECONDS
        )
        try:
            async with session.get(
                url, params=params, headers=self._headers(), timeout=timeout, **self._tls_options()
            ) as response:
                if response.status >= 400:
                    raise _error_from_response("WATCH", url, response.status, await response.read())
                pending: list[bytes] = []
                async for chunk in response.content.iter_any():
                    *complete, rest = chunk.split(b"\n")
                    for piece in complete:
                        line = b"".join([*pending, piece])
                        pending.clear()
                        event = _watch_event(line, resource)
                        if event is not None:
                            yield event
                    if rest:
                        pending.append(rest)
                if b"".join(pending).strip():
                    raise KubeUnavailableError(f"the watch of {url.path} ended in the middle of an event")
        except (aiohttp.ClientError, OSError) as error:
            raise _unavailable("WATCH", url, error) from error

    async def healthy(self) -> bool:
        """Whether the API server answers /readyz with 200; never raises, as our readiness probe asks it."""
        return await self.readiness_problem() is None

    async def readiness_problem(self) -> str | None:
        """Why the API server does not answer /readyz with 200, or None when it does; never raises."""
        try:
            await self._request(
                "GET",
                self._base_url.joinpath("readyz"),
                total_seconds=min(self._timeout, READINESS_TIMEOUT_SECONDS),
                expect_json=False,
            )
        except KubeApiError as error:
            logger.info("the API server at %s is not ready: %s", self.connection.server, error)
            status = f"answered {error.status_code}: " if error.status_code is not None else ""
            return f"the API server at {self.connection.server} {status or 'is unreachable: '}{error.message}"
        return None

    async def _request(
        self,
        method: str,
        url: URL,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        total_seconds: float | None = None,
        expect_json: bool = True,
    ) -> KubeObject:
        session = self._open_session()
        headers = self._headers()
        if content_type is not None:
            headers["Content-Type"] = content_type
        total = self._timeout if total_seconds is None else total_seconds
        try:
            async with session.request(
                method,
                url,
                params=params,
                data=json.dumps(body, ensure_ascii=False).encode() if body is not None else None,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=total, connect=min(total, self._connect_timeout)),
                **self._tls_options(),
            ) as response:
                payload = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError) as error:
            raise _unavailable(method, url, error) from error
        logger.debug("%s %s -> %d", method, url.path, status)
        if status >= 400:
            raise _error_from_response(method, url, status, payload)
        if not expect_json:
            return {}
        return _json_object(method, url, status, payload)

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise RuntimeError("KubeClient is not open: use it as `async with KubeClient(connection) as client`")
        return self._session

    def _headers(self) -> dict[str, str]:
        authorization = self.connection.authorization_header()
        return {"Authorization": authorization} if authorization else {}

    def _tls_options(self) -> dict[str, Any]:
        name = self.connection.tls_server_name
        return {"server_hostname": name} if name else {}

    def _url(
        self,
        resource: ApiResource,
        namespace: str | None,
        name: str | None = None,
        subresource: str | None = None,
        *,
        collection: bool = False,
    ) -> URL:
        if not resource.namespaced and namespace is not None:
            raise ValueError(f"{resource.kind} is cluster-scoped, but namespace {namespace!r} was given")
        if resource.namespaced and namespace is None and not collection:
            raise ValueError(f"{resource.kind} is namespaced: give the namespace of {name!r}")
        segments = [*resource.path_prefix]
        if namespace is not None:
            segments += ["namespaces", object_name(namespace, "namespace")]
        segments.append(resource.plural)
        if name is not None:
            segments.append(object_name(name, f"{resource.kind} name"))
        if subresource is not None:
            segments.append(object_name(subresource, "subresource"))
        return self._base_url.joinpath(*segments, encoded=True)


OBJECT_NAME: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
"""A DNS-1123 subdomain: every name, namespace and subresource the controller puts into an API path."""


class InvalidObjectName(ValueError):
    """A name that is no Kubernetes object name; it never reaches a URL (`..`, `/` and the like)."""


def object_name(value: str, what: str = "name") -> str:
    """`value` when it is a DNS-1123 subdomain of at most 253 characters, else `InvalidObjectName`."""
    if len(value) > 253 or not OBJECT_NAME.fullmatch(value):
        raise InvalidObjectName(
            f"{value[:80]!r} is not a Kubernetes {what}: lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, at most 253 characters"
        )
    return value


def _selectors(label_selector: str | None, field_selector: str | None) -> dict[str, str]:
    selectors = {"labelSelector": label_selector, "fieldSelector": field_selector}
    return {key: value for key, value in selectors.items() if value}


def _field_manager(field_manager: str | None) -> dict[str, str]:
    return {"fieldManager": field_manager} if field_manager else {}


def _typed_body(body: Mapping[str, Any], resource: ApiResource) -> KubeObject:
    """The body with apiVersion and kind filled in, refusing one written for another kind."""
    for key, expected in (("apiVersion", resource.api_version), ("kind", resource.kind)):
        given = body.get(key)
        if given is not None and given != expected:
            raise ValueError(f"the body's {key} is {given!r}, but this call is for {expected!r}")
    return {"apiVersion": resource.api_version, "kind": resource.kind, **body}


def _with_type(item: KubeObject, resource: ApiResource) -> KubeObject:
    """List items of built-in kinds come without apiVersion and kind; add them so items look like gets."""
    return {"apiVersion": resource.api_version, "kind": resource.kind, **item}


def _watch_event(line: bytes, resource: ApiResource) -> WatchEvent | None:
    if not line.strip():
        return None
    try:
        event = json.loads(line)
        event_type, obj = event["type"], event["object"]
    except (ValueError, KeyError, TypeError) as error:
        raise KubeUnavailableError(
            f"the watch of {resource.plural} sent a line that is not an event: {error}"
        ) from error
    if event_type == "ERROR":
        raise error_from_status(obj if isinstance(obj, dict) else {"message": f"watch ERROR event: {obj!r}"})
    if event_type not in _WATCH_EVENT_TYPES or not isinstance(obj, dict):
        logger.warning("skipping a watch event of unknown type %r on %s", event_type, resource.plural)
        return None
    return WatchEvent(event_type, _with_type(obj, resource))


def _json_object(method: str, url: URL, status: int, payload: bytes) -> KubeObject:
    try:
        decoded = json.loads(payload)
    except ValueError as error:
        raise KubeApiError(
            f"{method} {url.path} answered {status} with a body that is not JSON: {payload[:200]!r}",
            status_code=status,
        ) from error
    if not isinstance(decoded, dict):
        raise KubeApiError(f"{method} {url.path} answered {status} with JSON that is not an object", status_code=status)
    return decoded


def _error_from_response(method: str, url: URL, status: int, payload: bytes) -> KubeApiError:
    """The server's Status when it sent one (it does for API errors); a description of the body otherwise."""
    try:
        decoded = json.loads(payload)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        return error_from_status(decoded, status_code=status)
    text = payload[:200].decode(errors="replace").strip()
    return error_from_status(
        {"code": status, "message": f"{method} {url.path} answered {status}: {text or '(empty body)'}"}
    )


def _unavailable(method: str, url: URL, error: BaseException) -> KubeUnavailableError:
    description = str(error) or ("timed out" if isinstance(error, TimeoutError) else type(error).__name__)
    return KubeUnavailableError(f"{method} {url.path} on {url.origin()} failed: {description}")
