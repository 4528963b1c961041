"""What every request handler may use, opened once per process and passed in, never imported."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from controller.clock import Clock, utc_now
from controller.config import Settings
from controller.github import GitHubClient
from controller.kube import Informer, KubeClient
from controller.runners.identity import IdentityVerifier
from controller.secrets import SecretBackend
from controller.store import Store
from controller.ticketing.jira import JiraClient
from controller.ticketing.model import Provider, TicketSource
from controller.web.admin_tokens import AdminTokens
from controller.web.identity import IdentityCache, IdentityProbe
from controller.web.throttle import FailureThrottle
from controller.workflows import RenderedDigests


@dataclass
class WebContext:
    """The API server's dependencies; tests build one from real parts and their own clock."""

    settings: Settings
    store: Store
    kube: KubeClient
    namespace: str
    mappings: Informer
    admin_tokens: AdminTokens | None
    secrets: SecretBackend
    clock: Clock = utc_now
    login_throttle: FailureThrottle = field(default_factory=FailureThrottle)
    jira: JiraClient | None = None
    """The Jira client, when Jira is configured (for /api/jira/*)."""
    ticketing_probes: dict[str, IdentityProbe] = field(default_factory=dict)
    """One "who am I" call per configured ticketing provider, keyed linear / jira."""
    identity_cache: IdentityCache = field(init=False)
    stored_at_start: dict[str, str | None] = field(default_factory=dict)
    """Restart-bound settings as stored when the process started: what it actually runs with."""
    rendered_digests: RenderedDigests = field(init=False)
    """Each mapping's rendered workflow files as digests, for the template status (rendered once per spec)."""
    identity: IdentityVerifier | None = None
    """Verifies the OIDC tokens runs trade at /runner/credentials; None without RUNNER_CALLBACK_BASE_URL."""
    github: GitHubClient | None = None
    """The GitHub App's client (workflow sync, template status, models); None without GITHUB_APP_ID and key."""
    tickets: Mapping[Provider, TicketSource] = field(default_factory=dict)
    """The configured ticketing providers, for the briefs runs read (GET /runner/brief)."""
    session_reset_wait: float = 20.0
    """Seconds DELETE /api/sessions/:machineId waits for the operator before it answers 202."""
    gap_fill_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    """One per mapping: a gap-fill trigger's checks and its Dispatch's creation happen as one step."""

    def __post_init__(self) -> None:
        self.identity_cache = IdentityCache(clock=self.clock)
        self.rendered_digests = RenderedDigests(self.settings.session_image)


CONTEXT = web.AppKey("context", WebContext)


def context_of(request: web.Request) -> WebContext:
    return request.app[CONTEXT]
