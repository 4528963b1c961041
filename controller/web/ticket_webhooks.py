"""POST /api/linear/webhook and /api/jira/webhook: verified, de-duplicated, then handed to the operator.

The API process only proves that a delivery is genuine, fresh and new, and records a wakeup for its
ticket; the active operator re-fetches the ticket and decides, as a poll would, within a second.
Routes answer 503 while their secret is unset, whatever ADMIN_ACCESS_CODE says.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import Field, SecretStr

from controller.metrics import WEBHOOK_EVENTS
from controller.store import TicketingProvider
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.models import CamelModel
from controller.web.routing import Access, ApiRouter, respond

router = ApiRouter(tag="webhooks")

LINEAR_FRESHNESS = timedelta(seconds=60)
"""Linear's own SDK refuses deliveries more than a minute from the receiver's clock."""
JIRA_FRESHNESS = timedelta(minutes=5)
"""Jira retries slowly; a wider window still refuses a replay captured long ago."""


class WebhookAck(CamelModel):
    status: str = Field(description="accepted (a wakeup was recorded), duplicate, or ignored.")
    ticket: str | None = Field(default=None, description="The ticket the operator will look at.")


@dataclass(frozen=True)
class Delivery:
    """A verified webhook body and what identifies it."""

    body: dict[str, Any]
    delivery_id: str | None


def _object(value: object) -> dict[str, Any]:
    """A nested JSON object, or an empty one when the sender put something else there."""
    return value if isinstance(value, dict) else {}


def _secret_or_503(secret: SecretStr | None, variable: str) -> bytes:
    if secret is None:
        raise ApiError(503, "webhook_disabled", f"this webhook is disabled: {variable} is not set")
    return secret.get_secret_value().encode()


def _reject(source: str, outcome: str, message: str) -> ApiError:
    WEBHOOK_EVENTS.labels(source, outcome).inc()
    return ApiError(401, outcome.replace("-", "_"), message)


async def _verified(
    request: web.Request, source: str, secret: bytes, signature: str | None, *, prefix: str = ""
) -> dict[str, Any]:
    """The body, once its HMAC-SHA256 over the exact bytes matches in constant time."""
    raw = await request.read()
    expected = prefix + hmac.new(secret, raw, hashlib.sha256).hexdigest()
    if signature is None or not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
        raise _reject(source, "bad-signature", "the signature is missing or does not match the body")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "invalid_json", "the webhook body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the webhook body is not a JSON object")
    return body


def _plausible(timestamp_ms: float) -> bool:
    """A finite number of milliseconds within a few centuries of the epoch (no NaN, no 400-digit integer)."""
    return -1e15 < timestamp_ms < 1e15 and math.isfinite(timestamp_ms)


def _check_fresh(source: str, timestamp_ms: object, now: datetime, window: timedelta) -> None:
    if not isinstance(timestamp_ms, int | float) or isinstance(timestamp_ms, bool) or not _plausible(timestamp_ms):
        raise _reject(source, "stale", "the delivery carries no timestamp in milliseconds")
    if abs(now.timestamp() * 1000 - float(timestamp_ms)) > window.total_seconds() * 1000:
        raise _reject(source, "stale", f"the delivery is more than {int(window.total_seconds())} s from our clock")


async def _accept(
    context: WebContext, source: TicketingProvider, delivery_id: str | None, ticket_ref: str | None, labels: list[str]
) -> web.Response:
    now = context.clock()
    if delivery_id is not None and not await context.store.first_seen_delivery(source, delivery_id, now):
        WEBHOOK_EVENTS.labels(source, "replay").inc()
        return respond(WebhookAck(status="duplicate"))
    wanted = context.settings.ai_implement_label.casefold()
    if ticket_ref is None or wanted not in {label.casefold() for label in labels}:
        WEBHOOK_EVENTS.labels(source, "ignored").inc()
        return respond(WebhookAck(status="ignored"), status=202)
    await context.store.request_ticket_wakeup(source, ticket_ref, now)
    WEBHOOK_EVENTS.labels(source, "accepted").inc()
    return respond(WebhookAck(status="accepted", ticket=ticket_ref), status=202)


@router.route(
    "POST",
    "/api/linear/webhook",
    summary="Receive Linear webhook deliveries (Issue events)",
    description="Signed with Linear-Signature (hex HMAC-SHA256 of the body with LINEAR_WEBHOOK_SECRET); "
    "webhookTimestamp must be within 60 s; Linear-Delivery ids are accepted once.",
    responses={200: WebhookAck, 202: WebhookAck, 400: None, 401: None, 503: None},
    access=Access.OWN_SECRET,
)
async def linear_webhook(request: web.Request) -> web.Response:
    context = context_of(request)
    secret = _secret_or_503(context.settings.linear_webhook_secret, "LINEAR_WEBHOOK_SECRET")
    body = await _verified(request, "linear", secret, request.headers.get("Linear-Signature"))
    _check_fresh("linear", body.get("webhookTimestamp"), context.clock(), LINEAR_FRESHNESS)
    data = _object(body.get("data"))
    is_issue = body.get("type") == "Issue" and body.get("action") in ("create", "update")
    labels = [str(label.get("name", "")) for label in data.get("labels") or [] if isinstance(label, dict)]
    ticket_ref = str(data["id"]) if is_issue and data.get("id") else None
    return await _accept(context, "linear", request.headers.get("Linear-Delivery"), ticket_ref, labels)


@router.route(
    "POST",
    "/api/jira/webhook",
    summary="Receive Jira webhook deliveries (issue created and updated)",
    description="Signed with X-Hub-Signature (sha256= hex HMAC-SHA256 of the body with JIRA_WEBHOOK_SECRET); "
    "the body timestamp must be within 5 minutes; X-Atlassian-Webhook-Identifier ids are accepted once.",
    responses={200: WebhookAck, 202: WebhookAck, 400: None, 401: None, 503: None},
    access=Access.OWN_SECRET,
)
async def jira_webhook(request: web.Request) -> web.Response:
    context = context_of(request)
    secret = _secret_or_503(context.settings.jira_webhook_secret, "JIRA_WEBHOOK_SECRET")
    body = await _verified(request, "jira", secret, request.headers.get("X-Hub-Signature"), prefix="sha256=")
    _check_fresh("jira", body.get("timestamp"), context.clock(), JIRA_FRESHNESS)
    issue = _object(body.get("issue"))
    fields = _object(issue.get("fields"))
    is_issue = body.get("webhookEvent") in ("jira:issue_created", "jira:issue_updated")
    labels = [str(label) for label in fields.get("labels") or []]
    ticket_ref = str(issue["key"]) if is_issue and issue.get("key") else None
    delivery = request.headers.get("X-Atlassian-Webhook-Identifier")
    return await _accept(context, "jira", delivery, ticket_ref, labels)
