"""Jira admin webhooks as the sandbox sends them (EXTERNAL_APIS.md §2.10, §8.2).

A delivery is a POST of the event's JSON with `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the
exact body>` (when the webhook has a secret; the header is not `-256`), a per-delivery
`X-Atlassian-Webhook-Identifier` that stays the same on retries (the receiver's dedupe key),
`X-Atlassian-Webhook-Retry: n` on the n-th retry, `X-Atlassian-Webhook-Flow: Primary`, and
`User-Agent: Atlassian Webhook HTTP Client`. The body's `timestamp` is epoch **milliseconds**,
stamped when the attempt is made [U: whether Jira re-stamps retries is not documented].

Jira retries only 408, 409, 425, 429, 5xx and failures to connect or answer, up to five times
minutes apart; any other answer (a 400, a 404) ends the delivery. The outbox's `accepted` therefore
means "Jira is done with it" for Jira, which includes a final refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from controller.sandbox.jira.jql import Query

RETRY_DELAYS: Final = (60.0, 120.0, 240.0, 480.0, 960.0)
"""Seconds before each of Jira's five retries [U: "minutes apart" is all that is documented]."""
RETRIED_STATUSES: Final = frozenset({408, 409, 425, 429})
"""4xx answers Jira retries; every other 4xx is final."""
EVENTS: Final = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "comment_created")
DEFAULT_EVENTS: Final = frozenset({"jira:issue_created", "jira:issue_updated", "jira:issue_deleted"})
USER_AGENT: Final = "Atlassian Webhook HTTP Client"


def jira_signature(secret: bytes, body: bytes) -> str:
    """`X-Hub-Signature` of a delivery: `sha256=` and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def jira_stops_retrying(status: int) -> bool:
    """Whether Jira counts this answer as the end of a delivery: success, or a refusal it does not retry."""
    return status < 500 and status not in RETRIED_STATUSES


@dataclass
class JiraWebhookState:
    """An admin webhook: where to POST, the secret to sign with, which events, and an optional JQL filter."""

    id: int
    cloud_id: str
    url: str
    secret: bytes | None
    events: frozenset[str]
    jql: str | None = None
    query: Query | None = None


def render_delivery(
    webhook: JiraWebhookState, payload: Mapping[str, Any], now: float, delivery_id: str, retry: int
) -> tuple[bytes, dict[str, str]]:
    """The exact bytes and headers of one attempt; `retry` is 0 for the first."""
    body = json.dumps({"timestamp": int(now * 1000), **payload}, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Atlassian-Webhook-Identifier": delivery_id,
        "X-Atlassian-Webhook-Flow": "Primary",
    }
    if retry:
        headers["X-Atlassian-Webhook-Retry"] = str(retry)
    if webhook.secret is not None:
        headers["X-Hub-Signature"] = jira_signature(webhook.secret, body)
    return body, headers


def change_item(
    field: str,
    *,
    field_id: str,
    before: str | None,
    after: str | None,
    custom: bool = False,
    before_id: str | None = None,
    after_id: str | None = None,
) -> dict[str, Any]:
    """One changelog item: `from`/`to` hold ids where the field has them, the `*String`s what people read."""
    return {
        "field": field,
        "fieldtype": "custom" if custom else "jira",
        "fieldId": field_id,
        "from": before_id,
        "fromString": before,
        "to": after_id,
        "toString": after,
    }
