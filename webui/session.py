"""The admin UI's session: a cookie holding an admin token, and the checks every unsafe request passes.

The cookie holds the same kind of token `POST /api/auth` hands out (controller.web.admin_tokens), so
it lives 24 hours, works on every replica and dies when ADMIN_ACCESS_CODE changes. It is HttpOnly,
SameSite=Strict, scoped to /admin, and Secure outside development. A request that changes anything
must come from this origin (Origin, else Sec-Fetch-Site) and carry the session's CSRF token (a
header htmx sends, or a form field), derived from the session token so that nothing is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web
from cryptography.fernet import Fernet, InvalidToken

from controller.web.context import context_of

COOKIE: Final = "ai_implement_session"
COOKIE_PATH: Final = "/admin"
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_FIELD: Final = "csrf"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_SECONDS: Final = 24 * 3600


@dataclass(frozen=True)
class Session:
    token: str

    @property
    def csrf(self) -> str:
        return hmac.new(self.token.encode(), b"ai-implement-csrf-v1", hashlib.sha256).hexdigest()

    def seal(self, value: str) -> str:
        """A value the page carries without showing it (a secret typed in the stepper): only this session opens it."""
        return self._fernet().encrypt(value.encode()).decode()

    def unseal(self, sealed: str) -> str | None:
        try:
            return self._fernet().decrypt(sealed.encode(), ttl=SESSION_SECONDS).decode()
        except InvalidToken:
            return None

    def _fernet(self) -> Fernet:
        key = hmac.new(self.token.encode(), b"ai-implement-sealed-form-values-v1", hashlib.sha256).digest()
        return Fernet(base64.urlsafe_b64encode(key))


class CrossSiteRefused(Exception):
    """An unsafe request without this origin or without the session's CSRF token."""


def current_session(request: web.Request) -> Session | None:
    """The request's session when its cookie holds a valid token of the current access code."""
    context = context_of(request)
    token = request.cookies.get(COOKIE)
    if not token or context.admin_tokens is None or not context.admin_tokens.is_valid(token, context.clock()):
        return None
    return Session(token)


def start_session(request: web.Request, response: web.StreamResponse) -> Session:
    context = context_of(request)
    assert context.admin_tokens is not None
    issued = context.admin_tokens.issue(context.clock())
    response.set_cookie(
        COOKIE,
        issued.token,
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=context.settings.is_production,
    )
    return Session(issued.token)


def end_session(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path=COOKIE_PATH)


def check_same_origin(request: web.Request) -> None:
    """Refuse a state-changing request another site made the browser send (Origin, else Fetch metadata)."""
    origin = request.headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.netloc != request.host or parts.scheme not in ("http", "https"):
            raise CrossSiteRefused(f"the request came from {origin}, not from this site")
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise CrossSiteRefused(f"the browser says the request came from a {site} page")


async def check_csrf(request: web.Request, session: Session) -> None:
    check_same_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = str((await request.post()).get(CSRF_FIELD, ""))
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise CrossSiteRefused("the request did not carry this session's CSRF token: reload the page")
