"""Recording admin changes in the audit trail, with who made them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiohttp import web
from pydantic import Field
from pydantic import JsonValue as Json

from controller.store import JsonValue
from controller.web.clients import client_address
from controller.web.context import WebContext, context_of
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, limit_of, limit_parameter, reject_unknown_query, respond

router = ApiRouter(tag="audit")

AUDIT_PAGE = 200
MAX_AUDIT_PAGE = 1000


class AuditRow(CamelModel):
    at: datetime
    actor: str = Field(description="admin@<client> through the API, admin-ui@<client> through the admin UI.")
    action: str = Field(description="e.g. mapping.apply, secret.set, session.destroy, dedup.remove.")
    target: str = Field(description="What was changed: a team key, a secret's stored name, a machine id.")
    details: dict[str, Json] = Field(description="The change's fields; never a secret's value.")


class AuditTrail(CamelModel):
    changes: list[AuditRow] = Field(description="Newest first.")


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


@router.route(
    "GET",
    "/api/audit",
    summary="The admin changes recorded in the audit trail, newest first",
    query=limit_parameter(AUDIT_PAGE, MAX_AUDIT_PAGE),
    responses={200: AuditTrail, 422: None},
)
async def audit_trail(request: web.Request) -> web.Response:
    reject_unknown_query(request)
    return respond(await audit_trail_of(context_of(request), limit_of(request, AUDIT_PAGE, MAX_AUDIT_PAGE)))


async def audit_trail_of(context: WebContext, limit: int = AUDIT_PAGE) -> AuditTrail:
    """Who changed what through the admin API and UI (the Audit log panel and GET /api/audit)."""
    entries = await context.store.recent_audit(limit)
    return AuditTrail(
        changes=[
            AuditRow(
                at=entry.at, actor=entry.actor, action=entry.action, target=entry.target, details=dict(entry.details)
            )
            for entry in entries
        ]
    )
