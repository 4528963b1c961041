"""The Fly.io Machines API sandbox (EXTERNAL_APIS.md §4): apps and app secrets, with state.

Implements `GET /v1/apps/{app}` and the app secrets endpoints of §4.4, including the bulk
`POST /v1/apps/{app}/secrets {"values": {...}}` and a 400 for the shapes only third-party code
sends. Every response carries `fly-request-id`; both `Bearer` and `FlyV1` schemes are accepted.
Machines will be one more route group (`_add_machine_routes`) over the same `FlyAppState`.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from aiohttp import web

from controller.sandbox.base import (
    Fault,
    FaultKind,
    Rejection,
    Sandbox,
    read_json,
    retry_after_seconds,
)

SECRET_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
AUTH_SCHEMES: Final = ("bearer", "flyv1")
UNAUTHORIZED: Final = "unauthorized"


@dataclass
class FlySecretState:
    name: str
    value: str
    created_at: str
    updated_at: str

    @property
    def digest(self) -> str:
        """Changes with the value and reveals nothing of it, like Fly's."""
        return hashlib.sha256(self.value.encode()).hexdigest()[:16]

    def as_json(self, *, with_value: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "name": self.name,
            "digest": self.digest,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if with_value:
            answer["value"] = self.value
        return answer


@dataclass
class FlyAppState:
    name: str
    org_slug: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    status: str = "deployed"
    secrets: dict[str, FlySecretState] = field(default_factory=dict)
    secrets_version: int = 0
    """Bumped once per write (one set, one delete, one bulk call): what `min_secrets_version` refers to."""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "organization": {"name": self.org_slug, "slug": self.org_slug},
        }


@dataclass(frozen=True)
class FlyToken:
    apps: frozenset[str] | None
    """The apps the token may use; None for all (an org token)."""
    can_read_secrets: bool = False
    """Whether `show_secrets=true` returns values for this token."""


class FlySandbox(Sandbox):
    """Fly's Machines API for the apps and tokens seeded with `add_app()` and `add_token()`."""

    service: ClassVar[str] = "Fly"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self.apps: dict[str, FlyAppState] = {}
        self._tokens: dict[str, FlyToken] = {}

    def add_app(self, name: str, *, org_slug: str = "personal") -> FlyAppState:
        self.apps[name] = FlyAppState(name=name, org_slug=org_slug)
        return self.apps[name]

    def add_token(self, token: str, *, apps: Iterable[str] | None = None, can_read_secrets: bool = False) -> None:
        """Accept `token` (without its scheme) for `apps`, or every app when None."""
        self._tokens[token] = FlyToken(
            apps=frozenset(apps) if apps is not None else None, can_read_secrets=can_read_secrets
        )

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/apps/{app}", self._get_app)
        self._add_secret_routes(router)

    def _add_secret_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/apps/{app}/secrets", self._list_secrets)
        router.add_post("/v1/apps/{app}/secrets", self._update_secrets)
        router.add_get("/v1/apps/{app}/secrets/{name}", self._get_secret)
        router.add_post("/v1/apps/{app}/secrets/{name}", self._set_secret)
        router.add_delete("/v1/apps/{app}/secrets/{name}", self._delete_secret)

    async def _get_app(self, request: web.Request) -> web.Response:
        app, _ = self._authorized_app(request)
        return web.json_response(app.as_json())

    async def _list_secrets(self, request: web.Request) -> web.Response:
        app, token = self._authorized_app(request)
        with_values = request.query.get("show_secrets") == "true" and token.can_read_secrets
        secrets = [secret.as_json(with_value=with_values) for secret in app.secrets.values()]
        return web.json_response({"secrets": secrets})

    async def _get_secret(self, request: web.Request) -> web.Response:
        app, _ = self._authorized_app(request)
        return web.json_response(self._existing_secret(app, request.match_info["name"]).as_json())

    async def _set_secret(self, request: web.Request) -> web.Response:
        app, _ = self._authorized_app(request)
        name = _valid_secret_name(request.match_info["name"])
        body = read_json(await request.read())
        if not isinstance(body, dict) or set(body) != {"value"} or not isinstance(body["value"], str):
            raise Rejection(400, 'the body must be {"value": "<string>"}')
        secret = self._write(app, name, body["value"])
        app.secrets_version += 1
        return web.json_response({**secret.as_json(), "version": app.secrets_version})

    async def _delete_secret(self, request: web.Request) -> web.Response:
        app, _ = self._authorized_app(request)
        secret = self._existing_secret(app, request.match_info["name"])
        del app.secrets[secret.name]
        app.secrets_version += 1
        return web.json_response({"version": app.secrets_version})

    async def _update_secrets(self, request: web.Request) -> web.Response:
        """The bulk form fly-go sends: `{"values": {NAME: value | null}}`, null deleting; nothing else."""
        app, _ = self._authorized_app(request)
        body = read_json(await request.read())
        values = body.get("values") if isinstance(body, dict) and set(body) == {"values"} else None
        if not isinstance(values, dict) or not all(v is None or isinstance(v, str) for v in values.values()):
            raise Rejection(400, 'the body must be {"values": {"NAME": "value" or null to delete}}')
        for name in values:
            _valid_secret_name(name)
        written = []
        for name, value in values.items():
            if value is None:
                app.secrets.pop(name, None)
            else:
                written.append(self._write(app, name, value).as_json())
        app.secrets_version += 1
        return web.json_response({"secrets": written, "version": app.secrets_version})

    def _write(self, app: FlyAppState, name: str, value: str) -> FlySecretState:
        now = self._timestamp()
        existing = app.secrets.get(name)
        created_at = existing.created_at if existing else now
        app.secrets[name] = FlySecretState(name=name, value=value, created_at=created_at, updated_at=now)
        return app.secrets[name]

    def _existing_secret(self, app: FlyAppState, name: str) -> FlySecretState:
        secret = app.secrets.get(name)
        if secret is None:
            raise Rejection(404, f"secret {name} not found")
        return secret

    def _authorized_app(self, request: web.Request) -> tuple[FlyAppState, FlyToken]:
        """401 before 404: an unauthenticated caller learns nothing about which apps exist."""
        token = self._token(request)
        name = request.match_info["app"]
        if token.apps is not None and name not in token.apps:
            raise Rejection(401, UNAUTHORIZED)
        app = self.apps.get(name)
        if app is None:
            raise Rejection(404, f"app {name} not found")
        return app, token

    def _token(self, request: web.Request) -> FlyToken:
        scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
        token = self._tokens.get(credentials.strip()) if scheme.lower() in AUTH_SCHEMES else None
        if token is None:
            raise Rejection(401, UNAUTHORIZED)
        return token

    def _timestamp(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _error_body(self, status: int, message: str) -> Any:
        return {"error": message}

    def _fault_response(self, fault: Fault, request: web.Request) -> web.Response:
        headers = {"Retry-After": retry_after_seconds(fault.wait)} if fault.wait is not None else {}
        if fault.kind is FaultKind.RATE_LIMITED:
            return web.json_response({"error": "rate limit exceeded"}, status=fault.status or 429, headers=headers)
        return web.json_response(
            {"error": "the platform is temporarily unavailable"}, status=fault.status or 503, headers=headers
        )

    def _decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("fly-request-id", f"{uuid.uuid4().hex[:26]}-iad")


def _valid_secret_name(name: str) -> str:
    if not SECRET_NAME.fullmatch(name):
        raise Rejection(400, f"{name} is not a valid secret name")
    return name
