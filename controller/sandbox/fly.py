"""The Fly.io Machines API sandbox (EXTERNAL_APIS.md §4): apps, app secrets and machines, with state.

Implements `GET /v1/apps/{app}`, the app secrets endpoints of §4.4 (including the bulk
`POST /v1/apps/{app}/secrets {"values": {...}}` and a 400 for the shapes only third-party code
sends) and the machine routes of §4.3: create, get, list (a bare array, `metadata.<key>` filters,
destroyed machines only with `include_deleted=true`), wait (408 on timeout), stop, start, delete
(412 for a running machine without `force`/`kill`, 404 once destroyed) and metadata. Every
response carries `fly-request-id`; both `Bearer` and `FlyV1` schemes are accepted.

Machines live on the sandbox's own clock and `sleep`: a created machine boots in a background task
right after the create answer (`created` → `starting` → `started`, after `boot_seconds`), tells
`on_run_started` that a run started, and ends when a test (or the simulated runner) calls
`exit_machine()`. Per-machine action rate limits (§4.5) are off unless `rate_limits` is set,
because tests share a frozen fake clock on which a bucket never refills. An `OidcIssuer` under
`/oidc/<org>` plays Fly's per-organisation issuer for the machines' workload identity tokens.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import logging
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
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
from controller.sandbox.runs import OidcIssuer, RunStarted, StartedRun

logger = logging.getLogger(__name__)

SECRET_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MACHINE_NAME: Final = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
"""A DNS label; Fly's exact rule for machine names is not documented (EXTERNAL_APIS.md §4.3: U)."""
AUTH_SCHEMES: Final = ("bearer", "flyv1")
UNAUTHORIZED: Final = "unauthorized"
DEFAULT_ORG: Final = "personal"
DEFAULT_REGION: Final = "iad"
DISPATCH_METADATA_KEY: Final = "dispatch"
"""The metadata key runner machines carry their dispatch name under (`controller.runners.backend`)."""
WAIT_STATES: Final = frozenset({"started", "stopped", "suspended", "destroyed"})
MAX_WAIT_SECONDS: Final = 60
"""Fly's proxy ends a wait near 60 s; a longer `timeout` is cut to this."""
RESTART_POLICIES: Final = frozenset({"no", "on-failure", "always"})
CPU_KINDS: Final = frozenset({"shared", "performance"})
DEFAULT_GUEST: Final = {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}
"""What Fly fills in when a create names neither `guest` nor `size` (shared-cpu-1x)."""
RATE_LIMITS: Final = {"get": (5.0, 10.0)}
"""(refill per second, burst) per action and identifier; every other action (§4.5)."""
DEFAULT_RATE_LIMIT: Final = (1.0, 3.0)
CAPACITY_ERROR: Final = "could not reserve resource for machine: insufficient resources available to fulfill request"
_NAME_WORDS: Final = (
    ("proud", "quiet", "bold", "calm", "damp", "eager", "fancy", "lively", "misty", "rapid"),
    ("rain", "sun", "leaf", "river", "stone", "cloud", "field", "frost", "hill", "wind"),
)


def _ulid_like() -> str:
    """26 upper-case characters starting `01`, like Fly's instance and event ids (real ones are ULIDs)."""
    return ("01" + uuid.uuid4().hex.upper())[:26]


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
class FlyMachineState:
    """One machine as the sandbox keeps it; `config` is what the create sent, with Fly's defaults added."""

    id: str
    name: str
    region: str
    config: dict[str, Any]
    state: str
    instance_id: str
    created_at: str
    updated_at: str
    events: list[dict[str, Any]] = field(default_factory=list)
    """Newest first, as Fly lists them; `timestamp` in epoch milliseconds."""
    changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    """Set (and replaced) on every state change, for waits in progress."""

    @property
    def metadata(self) -> dict[str, str]:
        metadata: dict[str, str] = self.config.setdefault("metadata", {})
        return metadata

    @property
    def env(self) -> dict[str, str]:
        return dict(self.config.get("env") or {})

    @property
    def image(self) -> str:
        return str(self.config["image"])

    @property
    def auto_destroy(self) -> bool:
        return bool(self.config.get("auto_destroy"))

    @property
    def private_ip(self) -> str:
        return f"fdaa:0:1:a7b:{self.id[0:4]}:{self.id[4:8]}:{self.id[8:12]}:2"

    def image_ref(self) -> dict[str, Any]:
        """`registry/repository:tag@digest` taken apart; a digest made up from the name when none is given."""
        reference, _, digest = self.image.partition("@")
        first, slash, rest = reference.partition("/")
        has_registry = bool(slash) and ("." in first or ":" in first or first == "localhost")
        path = rest if has_registry else reference
        repository, colon, tag = path.rpartition(":")
        if not colon or "/" in tag:
            repository, tag = path, "latest"
        return {
            "registry": first if has_registry else "",
            "repository": repository,
            "tag": tag,
            "digest": digest or f"sha256:{hashlib.sha256(self.image.encode()).hexdigest()}",
            "labels": {},
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "region": self.region,
            "instance_id": self.instance_id,
            "private_ip": self.private_ip,
            "config": copy.deepcopy(self.config),
            "image_ref": self.image_ref(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "events": copy.deepcopy(self.events),
            "host_status": "ok",
        }


@dataclass
class FlyAppState:
    name: str
    org_slug: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    status: str = "deployed"
    secrets: dict[str, FlySecretState] = field(default_factory=dict)
    secrets_version: int = 0
    """Bumped once per write (one set, one delete, one bulk call): what `min_secrets_version` refers to."""
    machines: dict[str, FlyMachineState] = field(default_factory=dict)
    """By id, destroyed ones included, in creation order."""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "organization": {"name": self.org_slug, "slug": self.org_slug},
        }


@dataclass
class _Bucket:
    """A token bucket on the sandbox clock: `burst` calls at once, then `rate` per second."""

    rate: float
    burst: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + max(now - self.at, 0.0) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(frozen=True)
class FlyToken:
    apps: frozenset[str] | None
    """The apps the token may use; None for all (an org token)."""
    can_read_secrets: bool = False
    """Whether `show_secrets=true` returns values for this token."""


class FlySandbox(Sandbox):
    """Fly's Machines API for the apps and tokens seeded with `add_app()` and `add_token()`."""

    service: ClassVar[str] = "Fly"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        org_slug: str = DEFAULT_ORG,
        default_region: str = DEFAULT_REGION,
        on_run_started: RunStarted | None = None,
        auto_boot: bool = True,
        boot_seconds: float = 0.0,
        rate_limits: bool = False,
    ) -> None:
        """`sleep` is what waits and boots wait with: share a fake one with the clock in tests.

        `auto_boot=False` leaves created machines in `created` until `boot_machine()`.
        """
        super().__init__(clock=clock)
        self.sleep = sleep
        self.org_slug = org_slug
        self.default_region = default_region
        self.on_run_started = on_run_started
        self.auto_boot = auto_boot
        self.boot_seconds = boot_seconds
        self.rate_limits = rate_limits
        """Answer 429 past Fly's per-action budgets (§4.5); switchable at any time."""
        self.full_regions: set[str] = set()
        """Regions where a create answers 422 `insufficient_capacity`; see `exhaust_region()`."""
        self.apps: dict[str, FlyAppState] = {}
        self._tokens: dict[str, FlyToken] = {}
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures: list[BaseException] = []

    @functools.cached_property
    def oidc(self) -> OidcIssuer:
        """Fly's issuer for this sandbox's organisation, made on first use: its RSA key takes a third of a second."""
        issuer = OidcIssuer(f"/oidc/{self.org_slug}", clock=self.clock)
        if self.url is not None:
            issuer.bind(self.url)
        return issuer

    def add_app(self, name: str, *, org_slug: str | None = None) -> FlyAppState:
        self.apps[name] = FlyAppState(name=name, org_slug=org_slug or self.org_slug)
        return self.apps[name]

    def add_token(self, token: str, *, apps: Iterable[str] | None = None, can_read_secrets: bool = False) -> None:
        """Accept `token` (without its scheme) for `apps`, or every app when None."""
        self._tokens[token] = FlyToken(
            apps=frozenset(apps) if apps is not None else None, can_read_secrets=can_read_secrets
        )

    def revoke_token(self, token: str) -> None:
        """Answer 401 to `token` from now on, as Fly does once a token is revoked."""
        self._tokens.pop(token, None)

    # Machines, for tests and the simulated runner.

    def add_machine(
        self,
        app: str,
        *,
        image: str = "images.example.com/ai-implement/runner:latest",
        name: str | None = None,
        region: str | None = None,
        state: str = "started",
        env: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
        auto_destroy: bool = True,
        created_at: float | None = None,
    ) -> FlyMachineState:
        """Seed a machine nobody created through the API (an orphan for the reaper): no boot, no run started.

        `created_at` is epoch seconds (default: now on the sandbox clock).
        """
        config = {
            "image": image,
            "env": dict(env or {}),
            "metadata": dict(metadata or {}),
            "auto_destroy": auto_destroy,
            "restart": {"policy": "no"},
            "guest": dict(DEFAULT_GUEST),
        }
        machine = self._new_machine(self.apps[app], name=name, region=region, config=config, at=created_at)
        if state != "created":
            self._set_state(machine, state, event="start" if state == "started" else None, at=created_at)
        return machine

    def machines_of(self, app: str) -> list[FlyMachineState]:
        """Every machine of the app, destroyed ones included, oldest first."""
        return list(self.apps[app].machines.values())

    def machine(self, machine_id: str) -> FlyMachineState:
        for app in self.apps.values():
            if machine_id in app.machines:
                return app.machines[machine_id]
        raise KeyError(f"no machine {machine_id} in any app of the sandbox")

    def boot_machine(self, machine_id: str) -> None:
        """Boot a machine left in `created` (`auto_boot=False`, `skip_launch`) and tell `on_run_started`."""
        machine = self.machine(machine_id)
        if machine.state not in ("created", "starting"):
            raise ValueError(f"machine {machine_id} is {machine.state}: only a created machine boots")
        self._set_state(machine, "started", event="start", source="flyd")
        self._announce(self._app_of(machine), machine)

    def exit_machine(self, machine_id: str, exit_code: int = 0) -> bool:
        """The machine's process exits: with `auto_destroy` the machine is destroyed, else stopped.

        False, changing nothing, when the machine has no process (already stopped or destroyed, for
        instance by the controller before the simulated runner got to exit). Restart policies other
        than "no" are not simulated: the machine does not come back.
        """
        machine = self.machine(machine_id)
        if machine.state not in ("starting", "started", "stopping"):
            return False
        self._exit(machine, exit_code, requested_stop=False)
        return True

    def set_machine_state(self, machine_id: str, state: str) -> None:
        """Put a machine in any state (`failed`, `suspended`, `replacing`, …) without running the lifecycle."""
        self._set_state(self.machine(machine_id), state)

    def exhaust_region(self, region: str) -> None:
        """From now on creates in `region` answer 422 `insufficient_capacity`, as Fly does when it is full."""
        self.full_regions.add(region)

    def restore_region(self, region: str) -> None:
        self.full_regions.discard(region)

    async def settle(self) -> None:
        """Wait for background boots and the `on_run_started` calls they made; re-raise a call's failure."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._failures:
            failure = self._failures[0]
            self._failures.clear()
            raise failure

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Serve as every sandbox does, with the OIDC issuer bound to the URL; stop background work at the end."""
        async with super().running() as url:
            if "oidc" in self.__dict__:
                self.oidc.bind(url)
            try:
                yield url
            finally:
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/apps/{app}", self._get_app)
        self._add_secret_routes(router)
        self._add_machine_routes(router)
        router.add_get(f"/oidc/{self.org_slug}/.well-known/openid-configuration", self._oidc_discovery)
        router.add_get(f"/oidc/{self.org_slug}/.well-known/jwks", self._oidc_jwks)

    def _add_secret_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/apps/{app}/secrets", self._list_secrets)
        router.add_post("/v1/apps/{app}/secrets", self._update_secrets)
        router.add_get("/v1/apps/{app}/secrets/{name}", self._get_secret)
        router.add_post("/v1/apps/{app}/secrets/{name}", self._set_secret)
        router.add_delete("/v1/apps/{app}/secrets/{name}", self._delete_secret)

    def _add_machine_routes(self, router: web.UrlDispatcher) -> None:
        machines = "/v1/apps/{app}/machines"
        machine = f"{machines}/{{machine}}"
        router.add_post(machines, self._create_machine)
        router.add_get(machines, self._list_machines)
        router.add_get(machine, self._get_machine)
        router.add_delete(machine, self._delete_machine)
        router.add_get(f"{machine}/wait", self._wait_machine)
        router.add_post(f"{machine}/stop", self._stop_machine)
        router.add_post(f"{machine}/start", self._start_machine)
        router.add_get(f"{machine}/metadata", self._get_metadata)
        router.add_post(f"{machine}/metadata/{{key}}", self._set_metadata)
        router.add_delete(f"{machine}/metadata/{{key}}", self._delete_metadata)

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

    async def _oidc_discovery(self, request: web.Request) -> web.Response:
        """The issuer's own handlers, reached through the sandbox so the issuer (and its key) can wait for first use."""
        return await self.oidc._discovery(request)

    async def _oidc_jwks(self, request: web.Request) -> web.Response:
        return web.json_response(self.oidc.jwks())

    async def _create_machine(self, request: web.Request) -> web.Response:
        app, _ = self._authorized_app(request)
        self._throttle("create", app.name)
        body = read_json(await request.read())
        if not isinstance(body, dict):
            raise Rejection(400, "the body must be a CreateMachineRequest object")
        config = _valid_config(body.get("config"))
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or not MACHINE_NAME.fullmatch(name)):
            raise Rejection(400, "name must be a DNS label: lower-case letters, digits and dashes, at most 63")
        if name is not None and any(m.name == name and m.state != "destroyed" for m in app.machines.values()):
            raise Rejection(409, f"a machine named {name} already exists in app {app.name}")
        region = body.get("region", self.default_region)
        if not isinstance(region, str) or not region:
            raise Rejection(400, "region must be a region code such as iad")
        if region in self.full_regions:
            raise Rejection(
                422,
                CAPACITY_ERROR,
                body={"error": f"{CAPACITY_ERROR} in region {region}", "status": "insufficient_capacity"},
            )
        machine = self._new_machine(app, name=name, region=region, config=config)
        response = web.json_response(machine.as_json())
        if self.auto_boot and body.get("skip_launch") is not True:
            self._spawn(self._boot(app, machine))
        return response

    async def _list_machines(self, request: web.Request) -> web.Response:
        """A bare array; `metadata.<key>=<value>` filters all have to match."""
        app, _ = self._authorized_app(request)
        self._throttle("list", app.name)
        include_deleted = request.query.get("include_deleted") == "true"
        region = request.query.get("region")
        wanted = {
            key.removeprefix("metadata."): value for key, value in request.query.items() if key.startswith("metadata.")
        }
        machines = [
            machine.as_json()
            for machine in app.machines.values()
            if (include_deleted or machine.state != "destroyed")
            and (region is None or machine.region == region)
            and all(machine.metadata.get(key) == value for key, value in wanted.items())
        ]
        return web.json_response(machines)

    async def _get_machine(self, request: web.Request) -> web.Response:
        """A destroyed machine is still answered, in state `destroyed`."""
        _, machine = self._machine_of_request(request, "get", destroyed_too=True)
        return web.json_response(machine.as_json())

    async def _wait_machine(self, request: web.Request) -> web.Response:
        _, machine = self._machine_of_request(request, "wait", destroyed_too=True)
        states = request.query.getall("state", ["started"])
        if unknown := [state for state in states if state not in WAIT_STATES]:
            raise Rejection(400, f"invalid state {unknown[0]!r}: wait for one of {', '.join(sorted(WAIT_STATES))}")
        version = request.query.get("instance_id") or request.query.get("version")
        if "stopped" in states and not version:
            raise Rejection(400, "instance_id is required when waiting for the stopped state")
        if version is not None and version != machine.instance_id:
            raise Rejection(400, f"instance_id {version} is not a version of machine {machine.id}")
        try:
            seconds = int(request.query.get("timeout", str(MAX_WAIT_SECONDS)))
        except ValueError:
            raise Rejection(400, "timeout must be a whole number of seconds") from None
        if seconds < 1:
            raise Rejection(400, "timeout must be at least 1 second")
        if not await self._reached(machine, frozenset(states), min(seconds, MAX_WAIT_SECONDS)):
            raise Rejection(408, f"deadline_exceeded: machine {machine.id} did not reach {' or '.join(states)} in time")
        return web.json_response({"ok": True})

    async def _stop_machine(self, request: web.Request) -> web.Response:
        """Ask the process to stop: it exits (`requested_stop`) with 128 + the signal's number."""
        _, machine = self._machine_of_request(request, "stop")
        body = read_json(await request.read())
        if body is None:
            body = {}
        if not isinstance(body, dict) or not all(isinstance(body.get(key, ""), str) for key in ("signal", "timeout")):
            raise Rejection(400, 'the body must be {"signal"?: "SIGTERM", "timeout"?: "10s"}')
        try:
            number = signal.Signals[body.get("signal") or "SIGINT"].value
        except KeyError:
            raise Rejection(400, f"unknown signal {body['signal']!r}") from None
        if machine.state == "created":
            self._set_state(machine, "stopped", event="stop", source="user")
        elif machine.state in ("starting", "started"):
            self._set_state(machine, "stopping", event="stop", source="user")
            self._exit(machine, 128 + number, requested_stop=True)
        return web.json_response({"ok": True})

    async def _start_machine(self, request: web.Request) -> web.Response:
        app, machine = self._machine_of_request(request, "start")
        previous = machine.state
        if previous not in ("created", "stopped", "suspended"):
            raise Rejection(412, f"failed_precondition: unable to start machine from current state: '{previous}'")
        self._set_state(machine, "starting")
        self._set_state(machine, "started", event="start", source="user")
        self._announce(app, machine)
        return web.json_response({"previous_state": previous, "migrated": False, "new_host": ""})

    async def _delete_machine(self, request: web.Request) -> web.Response:
        """A running machine needs `force=true` (docs) or `kill=true` (fly-go); 404 once destroyed."""
        _, machine = self._machine_of_request(request, "delete")
        forced = request.query.get("force") == "true" or request.query.get("kill") == "true"
        if machine.state in ("starting", "started", "stopping") and not forced:
            raise Rejection(412, "failed_precondition: unable to destroy machine, not currently stopped")
        self._destroy(machine, source="user")
        return web.json_response({"ok": True})

    async def _get_metadata(self, request: web.Request) -> web.Response:
        _, machine = self._machine_of_request(request, "metadata")
        return web.json_response(dict(machine.metadata))

    async def _set_metadata(self, request: web.Request) -> web.Response:
        _, machine = self._machine_of_request(request, "metadata")
        body = read_json(await request.read())
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            raise Rejection(400, 'the body must be {"value": "<string>"}')
        machine.metadata[request.match_info["key"]] = body["value"]
        machine.updated_at = self._timestamp()
        return web.Response(status=204)

    async def _delete_metadata(self, request: web.Request) -> web.Response:
        _, machine = self._machine_of_request(request, "metadata")
        machine.metadata.pop(request.match_info["key"], None)
        machine.updated_at = self._timestamp()
        return web.Response(status=204)

    def _machine_of_request(
        self, request: web.Request, action: str, *, destroyed_too: bool = False
    ) -> tuple[FlyAppState, FlyMachineState]:
        """The app and machine a request names: 401, then 429 (per action and machine), then 404."""
        app, _ = self._authorized_app(request)
        machine_id = request.match_info["machine"]
        self._throttle(action, app.name, machine_id)
        machine = app.machines.get(machine_id)
        if machine is None or (machine.state == "destroyed" and not destroyed_too):
            raise Rejection(404, "machine not found")
        return app, machine

    def _throttle(self, action: str, *identifier: str) -> None:
        if not self.rate_limits:
            return
        rate, burst = RATE_LIMITS.get(action, DEFAULT_RATE_LIMIT)
        key = (action, *identifier)
        bucket = self._buckets.setdefault(key, _Bucket(rate=rate, burst=burst, tokens=burst, at=self.clock()))
        if not bucket.take(self.clock()):
            raise Rejection(429, "rate limit exceeded")

    # The lifecycle.

    def _new_machine(
        self,
        app: FlyAppState,
        *,
        name: str | None,
        region: str | None,
        config: dict[str, Any],
        at: float | None = None,
    ) -> FlyMachineState:
        machine_id = uuid.uuid4().hex[:14]
        moment = self._timestamp(at)
        machine = FlyMachineState(
            id=machine_id,
            name=name or _generated_name(machine_id),
            region=region or self.default_region,
            config=config,
            state="created",
            instance_id=_ulid_like(),
            created_at=moment,
            updated_at=moment,
        )
        machine.events.insert(0, self._event("launch", "created", "user", at=at))
        app.machines[machine_id] = machine
        return machine

    async def _boot(self, app: FlyAppState, machine: FlyMachineState) -> None:
        if machine.state != "created":
            return
        self._set_state(machine, "starting")
        if self.boot_seconds > 0:
            await self.sleep(self.boot_seconds)
        if machine.state != "starting":
            return  # stopped or destroyed while booting
        self._set_state(machine, "started", event="start", source="flyd")
        self._announce(app, machine)

    def _exit(self, machine: FlyMachineState, exit_code: int, *, requested_stop: bool) -> None:
        exit_event = {
            "exit_code": exit_code,
            "oom_killed": False,
            "requested_stop": requested_stop,
            "restarting": False,
            "exited_at": self._timestamp(),
        }
        request = {"exit_event": exit_event, "restart_count": 0}
        self._set_state(machine, "stopped", event="exit", source="flyd", request=request)
        if machine.auto_destroy:
            self._destroy(machine, source="flyd")

    def _destroy(self, machine: FlyMachineState, *, source: str) -> None:
        self._set_state(machine, "destroying")
        self._set_state(machine, "destroyed", event="destroy", source=source)

    def _set_state(
        self,
        machine: FlyMachineState,
        state: str,
        *,
        event: str | None = None,
        source: str = "flyd",
        request: Mapping[str, Any] | None = None,
        at: float | None = None,
    ) -> None:
        """Move to `state`, record an event for persistent states, and wake the waits on this machine."""
        machine.state = state
        machine.updated_at = self._timestamp(at)
        if event is not None:
            machine.events.insert(0, self._event(event, state, source, request=request, at=at))
        changed, machine.changed = machine.changed, asyncio.Event()
        changed.set()

    async def _reached(self, machine: FlyMachineState, states: frozenset[str], seconds: float) -> bool:
        """Whether the machine is, or gets, into one of `states` within `seconds` of the sandbox's `sleep`."""
        if machine.state in states:
            return True

        async def until_reached() -> None:
            while machine.state not in states:
                await machine.changed.wait()

        watcher = asyncio.ensure_future(until_reached())
        timer = asyncio.ensure_future(self.sleep(seconds))
        try:
            await asyncio.wait({watcher, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            timer.cancel()
        return (watcher.done() and not watcher.cancelled()) or machine.state in states

    def _announce(self, app: FlyAppState, machine: FlyMachineState) -> None:
        """Tell `on_run_started` (in the background, never delaying an answer) that a process started."""
        if self.on_run_started is not None:
            self._spawn(self.on_run_started(self._started_run(app, machine)))

    def _started_run(self, app: FlyAppState, machine: FlyMachineState) -> StartedRun:
        """The run as the simulated runner sees it, with the OIDC token Fly would mint inside the machine."""
        claims = {
            "app_id": app.id,
            "app_name": app.name,
            "machine_id": machine.id,
            "machine_name": machine.name,
            "machine_version": machine.instance_id,
            "org_id": _org_id(app.org_slug),
            "org_name": app.org_slug,
            "region": machine.region,
            "image": machine.image,
            "image_digest": machine.image_ref()["digest"],
            "sub": f"{app.org_slug}:{app.name}:{machine.name}",
        }
        issuer = self.oidc
        return StartedRun(
            backend="fly-machines",
            run_id=machine.id,
            dispatch_name=machine.metadata.get(DISPATCH_METADATA_KEY, ""),
            environment=machine.env,
            metadata=dict(machine.metadata),
            identity_token=lambda audience: issuer.mint(claims, audience),
        )

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None:
            self._failures.append(failure)
            logger.error("Fly sandbox background work failed", exc_info=failure)

    def _app_of(self, machine: FlyMachineState) -> FlyAppState:
        return next(app for app in self.apps.values() if app.machines.get(machine.id) is machine)

    def _event(
        self, kind: str, status: str, source: str, *, request: Mapping[str, Any] | None = None, at: float | None = None
    ) -> dict[str, Any]:
        moment = self.clock() if at is None else at
        event: dict[str, Any] = {
            "id": _ulid_like(),
            "type": kind,
            "status": status,
            "source": source,
            "timestamp": int(moment * 1000),
        }
        if request is not None:
            event["request"] = dict(request)
        return event

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

    def _timestamp(self, at: float | None = None) -> str:
        """ISO 8601 with `Z`, whole seconds, as Fly writes `created_at`; `at` (epoch seconds) defaults to now."""
        moment = self.clock() if at is None else at
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

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


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise Rejection(400, f"{where} must be an object of strings")
    return dict(value)


def _valid_config(config: Any) -> dict[str, Any]:
    """The create's `config`, checked where Fly is strict and filled in where Fly adds defaults."""
    if not isinstance(config, dict):
        raise Rejection(400, "config is required and must be an object")
    image = config.get("image")
    if not isinstance(image, str) or not image.strip():
        raise Rejection(400, "config.image is required")
    checked = copy.deepcopy(config)
    checked["env"] = _string_map(config.get("env"), "config.env")
    checked["metadata"] = _string_map(config.get("metadata"), "config.metadata")
    if not isinstance(config.get("auto_destroy", False), bool):
        raise Rejection(400, "config.auto_destroy must be a boolean")
    restart = config.get("restart")
    if restart is not None and (not isinstance(restart, dict) or restart.get("policy", "no") not in RESTART_POLICIES):
        raise Rejection(400, f"config.restart.policy must be one of {', '.join(sorted(RESTART_POLICIES))}")
    guest = config.get("guest")
    if guest is not None and config.get("size") is not None:
        raise Rejection(400, "config.guest and config.size are mutually exclusive")
    if guest is not None:
        _check_guest(guest)
    elif config.get("size") is None:
        checked["guest"] = dict(DEFAULT_GUEST)
    return checked


def _check_guest(guest: Any) -> None:
    if not isinstance(guest, dict):
        raise Rejection(400, "config.guest must be an object")
    if guest.get("cpu_kind", "shared") not in CPU_KINDS:
        raise Rejection(400, f"config.guest.cpu_kind must be one of {', '.join(sorted(CPU_KINDS))}")
    cpus, memory = guest.get("cpus", 1), guest.get("memory_mb", 256)
    if not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < 1:
        raise Rejection(400, "config.guest.cpus must be a positive integer")
    if not isinstance(memory, int) or isinstance(memory, bool) or memory < 256 or memory % 256:
        raise Rejection(400, f"config.guest.memory_mb must be a multiple of 256, not {memory!r}")


def _generated_name(machine_id: str) -> str:
    """Fly names unnamed machines `adjective-noun-1234`; derived from the id, so stable and unique enough."""
    number = int(machine_id, 16)
    adjectives, nouns = _NAME_WORDS
    return f"{adjectives[number % 10]}-{nouns[number // 10 % 10]}-{number % 10_000:04d}"


def _org_id(org_slug: str) -> str:
    return hashlib.sha256(org_slug.encode()).hexdigest()[:12]
