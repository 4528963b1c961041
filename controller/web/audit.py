"""Recording admin changes in the audit trail, with who made them."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from controller.store import JsonValue
from controller.web.clients import client_address
from controller.web.context import context_of


def actor_of(request: web.Request) -> str:
    """Every admin shares one access code, so the client address is the best name there is."""
    return f"admin@{client_address(request)}"


async def record_change(
    request: web.Request, action: str, target: str, details: Mapping[str, JsonValue] | None = None
) -> None:
    """Append one change; callers pass names and fields, never secret values."""
    context = context_of(request)
    await context.store.append_audit(
        at=context.clock(), actor=actor_of(request), action=action, target=target, details=details
    )
