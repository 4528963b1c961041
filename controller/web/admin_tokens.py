"""Admin bearer tokens: stateless JWTs that survive restarts, work on every replica, and die with the code.

Format: a JWT (HS256) with claims `iss=ai-implement`, `aud=ai-implement-admin`, `sub=admin`,
`iat`, `exp` (iat + 24 h) and a random `jti`. The signing key is
HMAC-SHA256(installation secret, SHA-256(ADMIN_ACCESS_CODE)): the installation secret is random,
created once and kept in the store (so every replica and every restart shares it, and a leaked
token does not allow an offline guess of the access code), and the access code's digest is mixed
in so that changing ADMIN_ACCESS_CODE invalidates every token issued before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

TOKEN_LIFETIME = timedelta(hours=24)
ISSUER = "ai-implement"
AUDIENCE = "ai-implement-admin"
SUBJECT = "admin"
ALGORITHM = "HS256"
CLOCK_SKEW_SECONDS = 60
"""Replicas' clocks differ a little; a token issued by one is not "from the future" on another."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class AdminTokens:
    """Issue and verify admin tokens for one access code."""

    def __init__(self, *, access_code: str, installation_secret: bytes) -> None:
        code_digest = hashlib.sha256(access_code.encode()).digest()
        self._key = hmac.new(installation_secret, b"admin-token-v1:" + code_digest, hashlib.sha256).digest()
        self._code_digest = code_digest

    def code_matches(self, candidate: str) -> bool:
        """Digests compared in constant time: neither the timing nor the lengths reveal anything."""
        return hmac.compare_digest(hashlib.sha256(candidate.encode()).digest(), self._code_digest)

    def issue(self, now: datetime) -> IssuedToken:
        now = now.replace(microsecond=0)
        expires_at = now + TOKEN_LIFETIME
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": SUBJECT,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": secrets.token_hex(16),
        }
        return IssuedToken(token=jwt.encode(claims, self._key, algorithm=ALGORITHM), expires_at=expires_at)

    def is_valid(self, token: str, now: datetime) -> bool:
        """True for a token we signed with the current code that has not expired at `now`.

        Times are checked here against the injected clock, not by PyJWT against the wall clock.
        """
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError:
            return False
        issued_in_the_future = float(claims["iat"]) > now.timestamp() + CLOCK_SKEW_SECONDS
        expired = now.timestamp() >= float(claims["exp"])
        return claims.get("sub") == SUBJECT and not issued_in_the_future and not expired


def new_installation_secret() -> str:
    """A fresh random secret for a new installation, stored hex-encoded."""
    return secrets.token_hex(32)
