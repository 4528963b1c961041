"""The Jira Cloud sandbox behind an Atlassian-gateway look-alike (EXTERNAL_APIS.md §2): `myself` for now.

Paths are the gateway's, `/ex/jira/{cloudId}/rest/api/3/...`. The gateway answers first: an
unknown cloud id is 404, a missing or unknown Bearer token is 401, and a token of another site is
401 "scope does not match", all in the gateway's `{"code", "message"}` shape; Jira itself answers
with its `{"errorMessages", "errors"}` shape. Rate limits are 429 with `Retry-After` in seconds
and `X-RateLimit-Reset` as an ISO-8601 minute (`2026-01-02T03:05Z`).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from aiohttp import web

from controller.sandbox.base import Fault, FaultKind, Rejection, Sandbox, retry_after_seconds

DEFAULT_RATE_LIMIT_WAIT: Final = 60.0
"""Where `X-RateLimit-Reset` points when a fault names no wait: the next minute or later."""
API_PREFIX: Final = "/ex/jira/{cloud_id}/rest/api/3"


@dataclass
class JiraSiteState:
    cloud_id: str
    site_url: str


@dataclass
class JiraUserState:
    display_name: str
    email: str | None
    account_id: str = field(default_factory=lambda: uuid.uuid4().hex[:24])
    time_zone: str = "Etc/UTC"
    locale: str = "en_US"
    cloud_ids: frozenset[str] | None = None
    """The sites the user's token works on; None for every site."""

    def as_json(self, self_url: str) -> dict[str, Any]:
        """`GET /myself` as Jira answers it (the `User` schema of the platform OpenAPI description)."""
        avatar = f"https://avatar-management.example/initials/{self.display_name[:2].upper()}.png"
        answer: dict[str, Any] = {
            "self": self_url,
            "accountId": self.account_id,
            "accountType": "atlassian",
            "displayName": self.display_name,
            "active": True,
            "timeZone": self.time_zone,
            "locale": self.locale,
            "avatarUrls": {
                size: f"{avatar}?size={size.split('x')[0]}" for size in ("16x16", "24x24", "32x32", "48x48")
            },
            "groups": {"size": 1, "items": []},
            "applicationRoles": {"size": 1, "items": []},
            "expand": "groups,applicationRoles",
        }
        if self.email is not None:
            answer["emailAddress"] = self.email
        return answer


class JiraSandbox(Sandbox):
    """Jira Cloud REST v3 through the gateway, for the sites and users seeded by `add_site`/`add_user`."""

    service: ClassVar[str] = "Jira"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self.sites: dict[str, JiraSiteState] = {}
        self._tokens: dict[str, JiraUserState] = {}

    def add_site(self, cloud_id: str | None = None, *, site_url: str = "https://example.atlassian.net") -> str:
        """A Jira Cloud site; returns its cloud id (a UUID unless given)."""
        cloud_id = cloud_id or str(uuid.uuid4())
        self.sites[cloud_id] = JiraSiteState(cloud_id=cloud_id, site_url=site_url)
        return cloud_id

    def add_user(
        self,
        display_name: str,
        email: str | None,
        *,
        token: str,
        cloud_ids: Iterable[str] | None = None,
    ) -> JiraUserState:
        """A user whose Bearer `token` works on `cloud_ids` (every site when None)."""
        user = JiraUserState(
            display_name=display_name,
            email=email,
            cloud_ids=frozenset(cloud_ids) if cloud_ids is not None else None,
        )
        self._tokens[token] = user
        return user

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(f"{API_PREFIX}/myself", self._myself)

    async def _myself(self, request: web.Request) -> web.Response:
        user = self._gateway(request)
        self_url = f"{self.url or ''}{request.path.removesuffix('/myself')}/user?accountId={user.account_id}"
        return web.json_response(user.as_json(self_url))

    def _gateway(self, request: web.Request) -> JiraUserState:
        """What the Atlassian gateway checks before Jira sees the request: site, then token and scope."""
        cloud_id = request.match_info["cloud_id"]
        if cloud_id not in self.sites:
            raise Rejection(404, "Not Found", body={"code": 404, "message": f"Site {cloud_id} not found"})
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        user = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise Rejection(401, "Unauthorized", body={"code": 401, "message": "Unauthorized"})
        if user.cloud_ids is not None and cloud_id not in user.cloud_ids:
            raise Rejection(401, "scope", body={"code": 401, "message": "Unauthorized; scope does not match"})
        return user

    def _error_body(self, status: int, message: str) -> Any:
        return {"errorMessages": [message], "errors": {}}

    def _fault_response(self, fault: Fault, request: web.Request) -> web.Response:
        """429 (or 503); `Retry-After` only when the fault names a wait, the ISO reset minute always."""
        now = self.clock()
        headers: dict[str, str] = {}
        if fault.wait is not None:
            headers["Retry-After"] = retry_after_seconds(fault.wait)
        if fault.kind is FaultKind.RATE_LIMITED:
            reset = now + (fault.wait if fault.wait is not None else DEFAULT_RATE_LIMIT_WAIT)
            headers.update(
                {
                    "X-RateLimit-Reset": iso_minute_at_or_after(reset),
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Remaining": "0",
                    "RateLimit-Reason": "jira-burst-based",
                }
            )
            body = {"errorMessages": ["Rate limit exceeded."], "errors": {}}
            return web.json_response(body, status=fault.status or 429, headers=headers)
        body = {"errorMessages": ["Service temporarily unavailable."], "errors": {}}
        return web.json_response(body, status=fault.status or 503, headers=headers)

    def _decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("atl-traceid", uuid.uuid4().hex)


def iso_minute_at_or_after(moment: float) -> str:
    """Jira's `X-RateLimit-Reset` form, `yyyy-MM-ddTHH:mmZ`, rounded up so it never resets early."""
    minute = math.ceil(moment / 60) * 60
    return datetime.fromtimestamp(minute, UTC).strftime("%Y-%m-%dT%H:%MZ")
