"""Workload identity: prove that a caller is the GitHub Actions run or Fly Machine we started.

Workflow inputs and machine configs can be read by others, so runs on GitHub Actions and Fly never
receive their callback tokens there. Instead the run asks its platform for an OIDC token (GitHub's
`id-token: write`, Fly's `/.fly/api` socket), with the controller's callback URL as audience, and
trades it at `POST /runner/credentials`. This module verifies such tokens against the issuer's
published keys (OpenID discovery → JWKS, cached, re-read once when an unknown key id appears) and
decides, purely, whether the verified claims belong to the run a Dispatch recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import jwt

JWKS_TTL_SECONDS: Final = 600.0
UNKNOWN_KEY_REFETCH_SECONDS: Final = 60.0
"""An unknown key id makes us re-read the issuer's keys at most this often: callers are not yet trusted."""
ALGORITHMS: Final = ["RS256"]


class IdentityRejected(Exception):
    """The token does not prove the caller's identity; the message says why (never the token)."""


@dataclass(frozen=True, slots=True)
class WorkloadIdentity:
    platform: str
    """github-actions or fly-machines."""
    claims: Mapping[str, Any]


class IdentityVerifier:
    """Verifies OIDC tokens of the configured issuers (issuer URL → platform)."""

    def __init__(
        self,
        issuers: Mapping[str, str],
        audience: str,
        *,
        http: httpx.AsyncClient,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuers = {issuer.rstrip("/"): platform for issuer, platform in issuers.items()}
        self._audience = audience
        self._http = http
        self._monotonic = monotonic
        self._keys: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}

    async def verify(self, token: str) -> WorkloadIdentity:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise IdentityRejected(f"the identity token is not a JWT: {error}") from error
        issuer = str(unverified.get("iss", "")).rstrip("/")
        platform = self._issuers.get(issuer)
        if platform is None:
            raise IdentityRejected(f"identity tokens from issuer {issuer!r} are not accepted")
        key = await self._key(issuer, str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=unverified.get("iss"),
                leeway=30,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise IdentityRejected(f"the identity token is not valid: {error}") from error
        return WorkloadIdentity(platform=platform, claims=claims)

    async def _key(self, issuer: str, key_id: str) -> jwt.PyJWK:
        cached = self._keys.get(issuer)
        age = self._monotonic() - cached[0] if cached is not None else None
        if cached is not None and age is not None and age < JWKS_TTL_SECONDS:
            if key_id in cached[1]:
                return cached[1][key_id]
            if age < UNKNOWN_KEY_REFETCH_SECONDS:
                raise IdentityRejected(f"issuer {issuer} publishes no key {key_id!r}")
        keys = await self._fetch_keys(issuer)
        self._keys[issuer] = (self._monotonic(), keys)
        if key_id not in keys:
            raise IdentityRejected(f"issuer {issuer} publishes no key {key_id!r}")
        return keys[key_id]

    async def _fetch_keys(self, issuer: str) -> dict[str, jwt.PyJWK]:
        try:
            discovery = await self._http.get(f"{issuer}/.well-known/openid-configuration")
            discovery.raise_for_status()
            jwks_uri = str(discovery.json()["jwks_uri"])
            answer = await self._http.get(jwks_uri)
            answer.raise_for_status()
            documents = answer.json()["keys"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            raise IdentityUnavailable(f"the keys of issuer {issuer} could not be read: {error}") from error
        keys: dict[str, jwt.PyJWK] = {}
        for document in documents:
            try:
                keys[str(document.get("kid", ""))] = jwt.PyJWK.from_dict(document)
            except jwt.PyJWTError:
                continue
        return keys


class IdentityUnavailable(Exception):
    """The issuer's keys could not be read; the caller should retry later."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRun:
    """What the Dispatch recorded about where its run (and its shadow) lives."""

    repo: str
    runner_backend: str | None
    runner_id: str | None
    fly_app: str | None
    shadow_id: str | None = None
    workflow_ref: str | None = None
    """GitHub Actions: `owner/repo/.github/workflows/ai-implement.yml@refs/heads/<default branch>`, the
    only workflow whose jobs speak for a run (None: not checked)."""
    actor: str | None = None
    """GitHub Actions: the App's bot account (`<slug>[bot]`), which starts every run (None: not checked)."""


def identity_matches(identity: WorkloadIdentity, run: RecordedRun) -> tuple[bool, bool, str]:
    """(matches, is_shadow, why not): whether verified claims are the recorded run, or its shadow."""
    claims = identity.claims
    if identity.platform == "github-actions":
        if run.runner_backend != "github-actions" or run.runner_id is None:
            return False, False, "this dispatch does not run on GitHub Actions"
        if claims.get("repository") != run.repo:
            return False, False, f"the token is for repository {claims.get('repository')!r}, not {run.repo}"
        run_id = run.runner_id.rsplit("/", 1)[-1]
        if str(claims.get("run_id")) != run_id:
            return False, False, "the token is for another workflow run"
        if claims.get("event_name") != "workflow_dispatch":
            return False, False, "the workflow run was not started by a workflow dispatch"
        if run.workflow_ref is not None and claims.get("workflow_ref") != run.workflow_ref:
            return False, False, f"the token is for workflow {claims.get('workflow_ref')!r}, not {run.workflow_ref}"
        if run.actor is not None and str(claims.get("actor", "")).lower() != run.actor.lower():
            return False, False, f"the workflow run was started by {claims.get('actor')!r}, not by the App"
        return True, False, ""
    if identity.platform == "fly-machines":
        if run.fly_app is not None and claims.get("app_name") != run.fly_app:
            return False, False, f"the token is for Fly app {claims.get('app_name')!r}, not {run.fly_app}"
        machine = claims.get("machine_id")
        if run.runner_backend == "fly-machines" and machine == run.runner_id:
            return True, False, ""
        if run.shadow_id is not None and machine == run.shadow_id:
            return True, True, ""
        return False, False, "the token is for another machine"
    return False, False, f"runs on {identity.platform} do not exchange identity tokens"
