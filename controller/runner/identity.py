"""How a run proves who it is at `/runner/credentials`, on each backend.

- GitHub Actions: the job's OIDC token, from `ACTIONS_ID_TOKEN_REQUEST_URL` with
  `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (the workflow grants `id-token: write`), for the controller's
  callback URL as audience;
- Fly Machines: the machine's OIDC token from the Machines API socket (`/.fly/api`,
  `POST /v1/tokens/oidc`), likewise;
- a local container: the progress token it was started with (the Docker Engine is the operator's own).

`AI_IMPLEMENT_FLY_API_SOCKET` points at another socket than `/.fly/api` (the sandbox uses it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import httpx

FLY_API_SOCKET: Final = "/.fly/api"
TIMEOUT_SECONDS: Final = 15.0


class IdentityUnavailable(Exception):
    """The platform would not give the run its identity token."""


def platform(environment: Mapping[str, str]) -> str | None:
    """github-actions, fly-machines, or None when the run has no platform identity (a local container)."""
    if environment.get("ACTIONS_ID_TOKEN_REQUEST_URL") and environment.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        return "github-actions"
    if Path(_fly_socket(environment)).exists():
        return "fly-machines"
    return None


async def identity_token(environment: Mapping[str, str], audience: str) -> str:
    """The platform's OIDC token for `audience`; IdentityUnavailable when there is none to get."""
    found = platform(environment)
    try:
        if found == "github-actions":
            return await _actions_token(environment, audience)
        if found == "fly-machines":
            return await _fly_token(environment, audience)
    except httpx.HTTPError as error:
        raise IdentityUnavailable(f"{found} did not hand out an identity token: {error}") from None
    raise IdentityUnavailable(
        "the run has no callback tokens (AI_IMPLEMENT_PROGRESS_TOKEN) and no platform identity to trade for them "
        "(ACTIONS_ID_TOKEN_REQUEST_URL on GitHub Actions, /.fly/api on Fly Machines)"
    )


async def _actions_token(environment: Mapping[str, str], audience: str) -> str:
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
        response = await http.get(
            environment["ACTIONS_ID_TOKEN_REQUEST_URL"],
            params={"audience": audience},
            headers={"Authorization": f"Bearer {environment['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
        )
    response.raise_for_status()
    body = response.json()
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise IdentityUnavailable("GitHub Actions answered the identity request without a token")
    return value


async def _fly_token(environment: Mapping[str, str], audience: str) -> str:
    transport = httpx.AsyncHTTPTransport(uds=_fly_socket(environment))
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT_SECONDS) as http:
        response = await http.post("http://localhost/v1/tokens/oidc", json={"aud": audience})
    response.raise_for_status()
    token = response.text.strip()
    if not token:
        raise IdentityUnavailable("Fly answered the identity request without a token")
    return token


def _fly_socket(environment: Mapping[str, str]) -> str:
    return environment.get("AI_IMPLEMENT_FLY_API_SOCKET") or FLY_API_SOCKET
