"""Each repository's own gap-fill trigger secret, derived from the controller's key (pure).

A repository's writers can read the secrets its workflows use, so one shared secret in every
repository would let any of them trigger runs on every other. Each repository is given
HMAC-SHA256(key, "gap-fill-trigger:" + owner/name in lower case) instead: the controller derives it
again to check a call, and one repository's secret opens no other.
"""

from __future__ import annotations

import hashlib
import hmac

PURPOSE = "gap-fill-trigger:"


def repository_trigger_secret(key: str, repository: str) -> str:
    """The secret `repository` (owner/name, any case) stores as GAP_FILL_TRIGGER_SECRET."""
    if not key:
        raise ValueError("GAP_FILL_TRIGGER_SECRET is empty: a trigger secret cannot be derived from it")
    owner, slash, name = repository.strip().partition("/")
    if not slash or not owner or not name or "/" in name:
        raise ValueError(f"{repository!r} is not a repository: give it as OWNER/NAME, e.g. acme/web")
    message = f"{PURPOSE}{owner.lower()}/{name.lower()}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
