"""The Fly.io Machines API client (EXTERNAL_APIS.md §4): apps and app secrets for now.

Machines come next and follow the same pattern: one method per call on `_call()`, which sends
through the shared retry loop and maps Fly's error body to `controller.fly.errors`. Reads and
writes that leave the same state when repeated (GET, setting a secret to a value) are idempotent;
deleting is not, because a retried delete that the server had already done answers 404.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import quote

import httpx

from controller.fly.errors import (
    FlyAuthError,
    FlyError,
    FlyNotFound,
    FlyRateLimited,
    FlySecretNotFound,
    FlyUnavailable,
)
from controller.fly.models import FlyApp, FlySecret, FlySecretList, FlySecretsVersion
from controller.httpclient import CallDescription, RetryPolicy, ServiceClient, ServiceError, Timeouts

DEFAULT_BASE_URL: Final = "https://api.machines.dev"
MACAROON_PREFIXES: Final = ("fm1r_", "fm1a_", "fm2_")
"""Tokens printed by `fly tokens create …`; Fly's own client sends them under the `FlyV1` scheme."""
SECRET_NAME_PATTERN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""Environment-variable names: secrets reach machines as environment variables."""

_SCHEMES: Final = ("flyv1 ", "bearer ")


def fly_authorization(token: str) -> str:
    """The `Authorization` value Fly's official client would send for this token.

    A token that already names its scheme passes through unchanged; a macaroon gets `FlyV1`; any
    other token (a personal access token) gets `Bearer`.
    """
    token = token.strip()
    if token.lower().startswith(_SCHEMES):
        return token
    if token.startswith(MACAROON_PREFIXES):
        return f"FlyV1 {token}"
    return f"Bearer {token}"


class FlyClient(ServiceClient):
    """Calls to `{base_url}/v1` (`DEFAULT_BASE_URL` in production, a sandbox in tests) with one token.

    `base_url` may end in `/v1` or not, so `FLY_FLAPS_BASE_URL`-style values work either way.
    """

    service: ClassVar[str] = "Fly"
    error_class: ClassVar[type[ServiceError]] = FlyError
    unavailable_class: ClassVar[type[ServiceError]] = FlyUnavailable

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        if not token.strip():
            raise ValueError("a Fly API token is required (FLY_SESSIONS_TOKEN): it is empty")
        base = base_url.rstrip("/")
        super().__init__(
            base if base.endswith("/v1") else f"{base}/v1",
            authorization=fly_authorization(token),
            transport=transport,
            retry=retry,
            timeouts=timeouts,
            secrets=(token.strip(),),
        )

    async def get_app(self, app: str) -> FlyApp:
        """The app as Fly sees it; also the cheapest check that the token is valid for this app."""
        response, call = await self._call("GET", f"apps/{_segment(app)}", idempotent=True)
        return self._parse(FlyApp, self._json_body(response), call)

    async def list_secrets(self, app: str) -> list[FlySecret]:
        """Names and digests of the app's secrets; values are never requested."""
        response, call = await self._call("GET", f"apps/{_segment(app)}/secrets", idempotent=True)
        return self._parse(FlySecretList, self._json_body(response), call).secrets

    async def set_secret(self, app: str, name: str, value: str) -> int | None:
        """Create or replace one secret; returns the app's new secrets version.

        Idempotent: a retry after the server acted writes the same value again.
        """
        path = f"apps/{_segment(app)}/secrets/{_secret_name(name)}"
        response, call = await self._call("POST", path, idempotent=True, json={"value": value})
        return self._parse(FlySecretsVersion, self._json_body(response), call).version

    async def delete_secret(self, app: str, name: str) -> int | None:
        """Remove one secret; returns the app's new secrets version. A missing name is `FlySecretNotFound`."""
        path = f"apps/{_segment(app)}/secrets/{_secret_name(name)}"
        response, call = await self._call("DELETE", path, idempotent=False, not_found=FlySecretNotFound)
        return self._parse(FlySecretsVersion, self._json_body(response), call).version

    async def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        not_found: type[FlyNotFound] = FlyNotFound,
    ) -> tuple[httpx.Response, CallDescription]:
        """Send one call; `not_found` lets a call say what its 404 means (a missing secret, machine…)."""
        try:
            response = await self._send(method, path, idempotent=idempotent, json=json, params=params)
        except FlyNotFound as error:
            if not_found is FlyNotFound or isinstance(error, not_found):
                raise
            raise not_found(
                error.message,
                status=error.status,
                request_id=error.request_id,
                error=error.error,
                error_status=error.error_status,
            ) from None  # the same failure, named more narrowly
        return response, CallDescription(method, response.request.url.path)

    def _error_for_response(
        self, response: httpx.Response, call: CallDescription, *, retry_after: float | None, note: str | None
    ) -> ServiceError:
        status = response.status_code
        body = self._json_body(response)
        error_text = message_text = error_status = None
        if isinstance(body, dict):
            error_text = _optional_text(body.get("error"))
            message_text = _optional_text(body.get("message"))
            error_status = _optional_text(body.get("status"))
        said = self._redact(error_text or message_text or self._excerpt(response) or response.reason_phrase)
        message = f"Fly answered {status} to {call}: {said}"
        if error_status:
            message += f" [{error_status}]"
        if note:
            message += f" ({note})"
        return _error_class_for(status)(
            message,
            status=status,
            request_id=response.headers.get("fly-request-id"),
            retry_after=retry_after,
            error=self._redact(error_text) if error_text else None,
            error_status=error_status,
        )


def _error_class_for(status: int) -> type[FlyError]:
    if status in (401, 403):
        return FlyAuthError
    if status == 404:
        return FlyNotFound
    if status == 429:
        return FlyRateLimited
    if status >= 500:
        return FlyUnavailable
    return FlyError


def _segment(value: str) -> str:
    """One path segment, escaped: an app name is never allowed to change the path."""
    return quote(value, safe="")


def _secret_name(name: str) -> str:
    """Check a name before it goes into a URL and a log line; a pasted value must never go there.

    The message gives the name's length rather than the name, in case it is a secret pasted by mistake.
    """
    if not SECRET_NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"a Fly secret name must look like an environment variable ({SECRET_NAME_PATTERN.pattern}); "
            f"the given name ({len(name)} characters) does not"
        )
    return name


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
