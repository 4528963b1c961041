"""Recording admin changes in the audit trail, with who made them."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from controller.store import JsonValue
from controller.web.clients import client_address
from controller.web.context import WebContext, context_of


def actor_of(request: web.Request) -> str:
    """Every admin shares one access code, so the client address is the best name there is."""
    return f"admin@{client_address(request)}"


def ui_actor_of(request: web.Request) -> str:
    """The admin UI's session, told apart from a bearer token of the API in the same trail."""
    return f"admin-ui@{client_address(request)}"


async def record_change(
    request: web.Request, action: str, target: str, details: Mapping[str, JsonValue] | None = None
) -> None:
    """Append one change; callers pass names and fields, never secret values."""
    await record_change_by(context_of(request), actor_of(request), action, target, details)


async def record_change_by(
    context: WebContext, actor: str, action: str, target: str, details: Mapping[str, JsonValue] | None = None
) -> None:
    """`record_change` for a service function shared by the JSON API and the admin UI, which name the actor."""
    await context.store.append_audit(at=context.clock(), actor=actor, action=action, target=target, details=details)
