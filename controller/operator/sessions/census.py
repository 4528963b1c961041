"""The census of live runner resources: what each backend runs now, and who it belongs to.

The API server never talks to a runner backend (DESIGN §3), so the active operator lists them and
writes what it found to the store, where `GET /api/sessions` reads it. Fly machines and local
containers are listed every `CENSUS_INTERVAL` (one request each); GitHub Actions runs cost two
requests per repository, so they are listed only by the reaper's sweeps. A backend that cannot be
listed keeps its last rows and records the error, so the panel shows how old its answer is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from controller.clock import Clock
from controller.config import Settings
from controller.kube import DISPATCHES, PROJECT_MAPPINGS, RUNNER_SESSIONS, Informer, KubeClient, KubeObject
from controller.metrics import LIVE_SESSIONS
from controller.operator.periodic import every
from controller.resources import ProjectMappingSpec
from controller.resources.dispatch import is_terminal
from controller.runners.backend import (
    METADATA_DISPATCH,
    METADATA_ISSUE,
    METADATA_NAMESPACE,
    METADATA_REPO,
    METADATA_TEAM,
    METADATA_TENANT,
    BackendName,
    RepoRef,
    RunHandle,
    RunnerBackend,
)
from controller.store import ObservedSession, Store

logger = logging.getLogger("controller.operator.sessions.census")

CENSUS_INTERVAL = timedelta(seconds=30)
CHEAP_BACKENDS: frozenset[BackendName] = frozenset({"fly-machines", "local"})
"""Backends listed by one request, often enough for the sessions panel to stay current."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketOf:
    """The ticket a resource works on, as far as it is known."""

    provider: str | None
    id: str | None
    identifier: str
    url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """Who a live resource belongs to: its session, its Dispatch, and whether it is another controller's."""

    dispatch_name: str | None = None
    dispatch: KubeObject | None = None
    session: KubeObject | None = None
    shadow: bool = False
    foreign: bool = False


class Ownership:
    """An index of Dispatches, RunnerSessions and mappings, taken once per census or sweep."""

    def __init__(
        self,
        *,
        namespace: str,
        tenant: str | None,
        dispatches: Iterable[KubeObject],
        sessions: Iterable[KubeObject],
        mappings: Iterable[KubeObject],
        settings: Settings,
    ) -> None:
        self.namespace = namespace
        self.tenant = tenant
        self._settings = settings
        self._dispatches = {item["metadata"]["name"]: item for item in dispatches}
        self._sessions: dict[tuple[str, str], KubeObject] = {}
        for session in sessions:
            spec = session.get("spec") or {}
            self._sessions[(str(spec.get("backend")), str(spec.get("resourceId")))] = session
        self._runs: dict[tuple[str, str], tuple[str, bool]] = {}
        for name, dispatch in self._dispatches.items():
            status = dispatch.get("status") or {}
            for key, shadow in (("runner", False), ("shadow", True)):
                ref = status.get(key) or {}
                if ref.get("backend") and ref.get("id"):
                    self._runs[(str(ref["backend"]), str(ref["id"]))] = (name, shadow)
        self._mappings: dict[str, ProjectMappingSpec] = {}
        for item in mappings:
            try:
                spec = ProjectMappingSpec.model_validate(item.get("spec") or {})
            except ValidationError:
                continue
            self._mappings[spec.team_key] = spec

    def claim(self, handle: RunHandle) -> Claim:
        """The session first, then the Dispatch's own record of its run, then the resource's labels."""
        key = (handle.backend, handle.id)
        session = self._sessions.get(key)
        if session is not None:
            spec = session.get("spec") or {}
            name = str(spec.get("dispatch"))
            return Claim(
                dispatch_name=name,
                dispatch=self._dispatches.get(name),
                session=session,
                shadow=bool(spec.get("shadow")),
            )
        if key in self._runs:
            name, shadow = self._runs[key]
            return Claim(dispatch_name=name, dispatch=self._dispatches.get(name), shadow=shadow)
        metadata = handle.metadata
        if self._is_foreign(metadata):
            return Claim(dispatch_name=metadata.get(METADATA_DISPATCH), foreign=True)
        labelled = metadata.get(METADATA_DISPATCH)
        if not labelled:
            return Claim()
        dispatch = self._dispatches.get(labelled)
        shadow = dispatch is not None and (dispatch.get("spec") or {}).get("runnerMode") == "shadow"
        return Claim(dispatch_name=labelled, dispatch=dispatch, shadow=shadow and handle.backend == "fly-machines")

    def _is_foreign(self, metadata: Mapping[str, str]) -> bool:
        namespace = metadata.get(METADATA_NAMESPACE)
        tenant = metadata.get(METADATA_TENANT)
        return (namespace is not None and namespace != self.namespace) or (tenant is not None and tenant != self.tenant)

    def live_run_of(self, identifier: str, besides: str | None) -> str | None:
        """The name of an unfinished Dispatch of the ticket other than `besides`, if there is one."""
        wanted = identifier.casefold()
        for name, dispatch in self._dispatches.items():
            issue = (dispatch.get("spec") or {}).get("issue") or {}
            status = dispatch.get("status") or {}
            same_ticket = name != besides and str(issue.get("identifier", "")).casefold() == wanted
            if same_ticket and (not is_terminal(status.get("phase")) or not status.get("closedAt")):
                return str(name)
        return None

    def team_of(self, handle: RunHandle, claim: Claim) -> str | None:
        if claim.dispatch is not None:
            return str((claim.dispatch.get("spec") or {}).get("mapping") or "") or None
        return handle.metadata.get(METADATA_TEAM)

    def mapping(self, team_key: str | None) -> ProjectMappingSpec | None:
        return self._mappings.get(team_key) if team_key else None

    def repos(self) -> list[RepoRef]:
        """Every mapped repository once, for listing GitHub Actions runs."""
        seen: dict[str, RepoRef] = {}
        for spec in self._mappings.values():
            source = spec.source
            ref = RepoRef(owner=source.owner, name=source.repo, default_branch=source.default_branch)
            seen.setdefault(ref.full_name.casefold(), ref)
        return list(seen.values())

    def ticket_of(self, handle: RunHandle, claim: Claim) -> TicketOf | None:
        """From the Dispatch when there is one; else from the resource's labels and its team's mapping."""
        if claim.dispatch is not None:
            issue = (claim.dispatch.get("spec") or {}).get("issue") or {}
            if issue.get("identifier"):
                return TicketOf(
                    provider=issue.get("provider"),
                    id=issue.get("id"),
                    identifier=str(issue["identifier"]),
                    url=issue.get("url"),
                )
        identifier = handle.metadata.get(METADATA_ISSUE)
        if not identifier:
            return None
        mapping = self.mapping(self.team_of(handle, claim))
        provider = mapping.ticketing.provider if mapping is not None else None
        return TicketOf(provider=provider, id=None, identifier=identifier, url=self._link(provider, identifier))

    def _link(self, provider: str | None, identifier: str) -> str | None:
        settings = self._settings
        if provider == "jira" and settings.jira_site_url:
            return f"{settings.jira_site_url.rstrip('/')}/browse/{identifier}"
        if provider == "linear" and settings.explicitly_set("LINEAR_WORKSPACE_URL"):
            return f"{settings.linear_workspace_url.rstrip('/')}/issue/{identifier}"
        return None

    def observed(self, handle: RunHandle) -> ObservedSession:
        """The row the sessions panel shows for a resource."""
        claim = self.claim(handle)
        ticket = self.ticket_of(handle, claim)
        metadata = handle.metadata
        repo = metadata.get(METADATA_REPO)
        if repo is None and claim.session is not None:
            repo = (claim.session.get("spec") or {}).get("repo")
        return ObservedSession(
            backend=handle.backend,
            resource_id=handle.id,
            name=handle.name,
            state=handle.state,
            backend_state=handle.backend_state,
            created_at=handle.created_at,
            region=handle.region,
            app=handle.app,
            url=handle.url,
            dispatch_name=claim.dispatch_name,
            issue_identifier=ticket.identifier if ticket else None,
            issue_url=ticket.url if ticket else None,
            team_key=self.team_of(handle, claim),
            repo=repo,
            tenant=metadata.get(METADATA_TENANT),
            namespace=metadata.get(METADATA_NAMESPACE),
        )


@dataclass(frozen=True, slots=True)
class Listing:
    """What one census found: the live resources of each backend listed, and why the others were not."""

    live: dict[BackendName, list[RunHandle]] = field(default_factory=dict)
    errors: dict[BackendName, str] = field(default_factory=dict)


@dataclass
class SessionCensus:
    """Lists backends, writes what they run to the store, and keeps the live-sessions gauge."""

    settings: Settings
    store: Store
    kube: KubeClient
    namespace: str
    dispatches: Informer
    sessions: Informer
    mappings: Informer
    clock: Clock
    _gauged: dict[str, set[str]] = field(default_factory=dict)

    def ownership(self) -> Ownership:
        """From the watch caches: current enough to label the sessions panel."""
        return Ownership(
            namespace=self.namespace,
            tenant=self.settings.client_slug,
            dispatches=self.dispatches.items(),
            sessions=self.sessions.items(),
            mappings=self.mappings.items(),
            settings=self.settings,
        )

    async def fresh_ownership(self) -> Ownership:
        """Listed from the API server now, for destroying: a cache whose watch broke could miss a new Dispatch.

        Raises whatever the API server or the connection raises; the caller then destroys nothing.
        """
        dispatches = await self.kube.list(DISPATCHES, self.namespace)
        sessions = await self.kube.list(RUNNER_SESSIONS, self.namespace)
        mappings = await self.kube.list(PROJECT_MAPPINGS, self.namespace)
        return Ownership(
            namespace=self.namespace,
            tenant=self.settings.client_slug,
            dispatches=dispatches.items,
            sessions=sessions.items,
            mappings=mappings.items,
            settings=self.settings,
        )

    async def take(self, backends: Sequence[RunnerBackend]) -> Listing:
        """List each backend; one that fails is reported in `errors` and the others still count."""
        listing = Listing()
        repos = self.ownership().repos()
        for backend in backends:
            try:
                handles = await backend.list_live(repos)
            except Exception as error:
                message = _describe(error)
                listing.errors[backend.name] = message
                logger.warning("could not list the live %s resources: %s", backend.name, message)
                await self.store.record_census_failure(backend.name, self.clock(), message)
                continue
            listing.live[backend.name] = handles
            ownership = self.ownership()
            await self.store.replace_live_sessions(
                backend.name, [ownership.observed(handle) for handle in handles], self.clock()
            )
            self._gauge(backend.name, handles)
        return listing

    def _gauge(self, backend: str, handles: Sequence[RunHandle]) -> None:
        counts: dict[str, int] = {}
        for handle in handles:
            counts[handle.state] = counts.get(handle.state, 0) + 1
        for state in self._gauged.get(backend, set()) - set(counts):
            LIVE_SESSIONS.remove(backend, state)
        for state, count in counts.items():
            LIVE_SESSIONS.labels(backend, state).set(count)
        self._gauged[backend] = set(counts)

    async def run(self, backends: Sequence[RunnerBackend], interval: timedelta = CENSUS_INTERVAL) -> None:
        """Keep the cheap backends' rows current, until cancelled."""
        cheap = [backend for backend in backends if backend.name in CHEAP_BACKENDS]
        if not cheap:
            return
        try:
            await every(interval.total_seconds(), lambda: self.take(cheap), "the session census")
        finally:
            self.forget_gauges()

    def forget_gauges(self) -> None:
        """A replica that stops leading stops reporting sessions: the new leader's numbers are the ones."""
        for backend, states in self._gauged.items():
            for state in states:
                LIVE_SESSIONS.remove(backend, state)
        self._gauged.clear()


def _describe(error: BaseException) -> str:
    message: Any = getattr(error, "message", None) or str(error) or type(error).__name__
    return str(message)[:500]
