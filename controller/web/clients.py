"""Who is calling: the client address, through as many trusted proxies as the operator declared."""

from __future__ import annotations

from aiohttp import web

from controller.web.context import context_of


def client_address(request: web.Request) -> str:
    """The peer address, or with TRUSTED_PROXY_HOPS=n the n-th address from the end of X-Forwarded-For.

    Proxies append the address they received from, so the trustworthy entries are the last n; anything
    before them was written by the client and could be forged.
    """
    hops = context_of(request).settings.trusted_proxy_hops
    peer = request.remote or "unknown"
    if hops == 0:
        return peer
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    return forwarded[-hops] if len(forwarded) >= hops else peer
