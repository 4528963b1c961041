"""/api/issues, /api/blockers, /api/dedup, and the ticketing webhooks' checks."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest

from controller.store import IssueSnapshot
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.clock import FakeClock, real_now
from tests.support.waiting import eventually
from tests.web.test_mappings import LINEAR_MAPPING

LINEAR_SECRET = "linear-webhook-secret"
JIRA_SECRET = "jira-webhook-secret"


def snapshot(identifier: str, team: str, readiness: str, reason: str | None = None) -> IssueSnapshot:
    return IssueSnapshot(
        issue_id=f"id-{identifier}",
        identifier=identifier,
        title=f"Ticket {identifier}",
        url=f"https://linear.app/acme/issue/{identifier}",
        team_key=team,
        provider="linear",
        state="unstarted",
        readiness=readiness,
        blocked_reason=reason,
        message=f"{reason} in words" if reason else None,
        updated_at=real_now(),
    )


async def test_issues_and_blockers_come_from_the_last_poll(api: Api) -> None:
    await api.context.store.replace_issue_snapshot(
        "linear",
        [
            snapshot("ENG-1", "ENG", "ready", "concurrency-cap"),
            snapshot("ENG-2", "ENG", "ready", "dedup-window"),
            snapshot("OPS-1", "OPS", "planning-pending", "paused"),
            snapshot("ENG-3", "ENG", "ready"),
            snapshot("ENG-4", "ENG", "planning-pending"),
        ],
    )
    headers = await api.login()
    issues = await (await api.client.get("/api/issues", headers=headers)).json()
    assert [row["identifier"] for row in issues["issues"]] == ["ENG-1", "ENG-2", "ENG-3", "ENG-4", "OPS-1"]
    assert issues["issues"][0]["blockedReason"] == "concurrency-cap"
    blockers = await (await api.client.get("/api/blockers", headers=headers)).json()
    assert blockers["kpis"] == {
        "total": 3,
        "teamsAffected": 2,
        "byConcurrencyCap": 1,
        "byDedupWindow": 1,
        "byReason": {"concurrency-cap": 1, "dedup-window": 1, "paused": 1},
    }
    assert blockers["blockers"][0] == {
        "identifier": "ENG-1",
        "teamKey": "ENG",
        "reason": "concurrency-cap",
        "message": "concurrency-cap in words",
        "url": "https://linear.app/acme/issue/ENG-1",
    }


async def inbox_page(api: Api, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = await api.client.get("/api/issues", params=params, headers=headers)
    assert response.status == 200, await response.text()
    page: dict[str, Any] = await response.json()
    return page


async def test_the_inbox_pages_each_ticket_once_in_order_with_the_load_of_the_pages_mappings(api: Api) -> None:
    headers = await api.login()
    assert (await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=headers)).status == 201
    await eventually(lambda: api.context.mappings.get("eng") is not None)
    await api.context.store.replace_issue_snapshot(
        "linear",
        [
            snapshot("OPS-2", "OPS", "ready"),
            snapshot("ENG-3", "ENG", "planning-pending", "paused"),
            snapshot("ENG-1", "ENG", "ready", "concurrency-cap"),
            snapshot("OPS-1", "OPS", "ready"),
            snapshot("ENG-2", "ENG", "ready"),
        ],
    )

    pages = [await inbox_page(api, headers, limit="2")]
    while pages[-1]["nextCursor"] is not None:
        pages.append(await inbox_page(api, headers, limit="2", cursor=pages[-1]["nextCursor"]))
    back = await inbox_page(api, headers, limit="2", cursor=pages[-1]["previousCursor"])

    identifiers = [[row["identifier"] for row in page["issues"]] for page in pages]
    assert identifiers == [["ENG-1", "ENG-2"], ["ENG-3", "OPS-1"], ["OPS-2"]]
    assert [page["previousCursor"] is None for page in pages] == [True, False, False]
    assert {page["total"] for page in pages} == {5}
    eng = {"teamKey": "ENG", "inProgress": 0, "cap": 1, "blocked": 2, "ready": 2, "planningPending": 1}
    assert [page["mappings"] for page in pages] == [[eng], [eng], []], "OPS has no mapping: no load"
    assert [row["identifier"] for row in back["issues"]] == ["ENG-3", "OPS-1"]
    everything = await inbox_page(api, headers)
    assert [row["identifier"] for row in everything["issues"]] == ["ENG-1", "ENG-2", "ENG-3", "OPS-1", "OPS-2"]
    assert (everything["nextCursor"], everything["previousCursor"]) == (None, None)


@pytest.mark.parametrize(
    ("query", "code", "said"),
    [
        ("limit=501", "invalid_limit", "limit='501' is not a whole number from 1 to 500"),
        ("cursor=%3D%3D", "invalid_cursor", "cursor='==' is not a cursor of this listing"),
        ("cursor=eyJhZnRlciI6WyJFTkciXX0", "invalid_cursor", "is not a cursor of this listing"),  # /api/mappings'
        ("team=ENG", "unknown_query_parameter", "this endpoint takes cursor, limit"),
    ],
    ids=["limit-above-the-maximum", "garbage", "another-listings", "misspelt"],
)
async def test_an_inbox_page_that_cannot_be_read_is_refused(api: Api, query: str, code: str, said: str) -> None:
    response = await api.client.get(f"/api/issues?{query}", headers=await api.login())

    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["code"], said in error["message"]) == (code, True)


async def test_dedup_window_lists_and_forgets(api: Api, clock: FakeClock) -> None:
    store = api.context.store
    await store.record_dedup("id-1", identifier="ENG-1", title="t", team_key="ENG", provider="linear", now=clock.now)
    headers = await api.login()
    listing = await (await api.client.get("/api/dedup", headers=headers)).json()
    (entry,) = listing["entries"]
    expires = (clock.now + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert (entry["identifier"], entry["expiresAt"]) == ("ENG-1", expires)
    assert (await api.client.delete("/api/dedup/id-1", headers=headers)).status == 204
    assert (await api.client.delete("/api/dedup/id-1", headers=headers)).status == 404
    assert (await (await api.client.get("/api/dedup", headers=headers)).json())["entries"] == []
    assert [e.action for e in await store.recent_audit(5)] == ["dedup.remove"]


def linear_delivery(clock: FakeClock, labels: list[str], *, action: str = "update") -> dict[str, Any]:
    return {
        "action": action,
        "type": "Issue",
        "data": {"id": "9f1c2d9e", "identifier": "ENG-7", "labels": [{"id": "l1", "name": n} for n in labels]},
        "webhookTimestamp": int(clock.now.timestamp() * 1000),
    }


def signed(secret: str, body: dict[str, Any]) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    return raw, hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("path", ["/api/linear/webhook", "/api/jira/webhook"])
async def test_webhooks_answer_503_while_their_secret_is_unset_whatever_the_admin_code(
    start_api: ApiFactory, path: str
) -> None:
    for env in ({}, {"ADMIN_ACCESS_CODE": None}):
        api = await start_api(env=env)
        response = await api.client.post(path, data=b"{}")
        assert response.status == 503
        assert "is not set" in (await response.json())["error"]["message"]


async def test_a_linear_delivery_is_verified_and_leaves_a_wakeup(start_api: ApiFactory, clock: FakeClock) -> None:
    api = await start_api(env={"LINEAR_WEBHOOK_SECRET": LINEAR_SECRET})
    raw, signature = signed(LINEAR_SECRET, linear_delivery(clock, ["AI-Implement"]))
    headers = {"Linear-Signature": signature, "Linear-Delivery": "delivery-1"}
    response = await api.client.post("/api/linear/webhook", data=raw, headers=headers)
    assert response.status == 202
    assert await response.json() == {"status": "accepted", "ticket": "9f1c2d9e"}
    (wakeup,) = await api.context.store.pending_ticket_wakeups()
    assert (wakeup.provider, wakeup.ticket_ref) == ("linear", "9f1c2d9e")
    replay = await api.client.post("/api/linear/webhook", data=raw, headers=headers)
    assert (replay.status, (await replay.json())["status"]) == (200, "duplicate")


@pytest.mark.parametrize(
    ("tamper", "status"),
    [("signature", 401), ("missing-signature", 401), ("stale", 401), ("not-json", 400)],
)
async def test_bad_linear_deliveries_are_refused(
    start_api: ApiFactory, clock: FakeClock, tamper: str, status: int
) -> None:
    api = await start_api(env={"LINEAR_WEBHOOK_SECRET": LINEAR_SECRET})
    body = linear_delivery(clock, ["AI-Implement"])
    if tamper == "stale":
        body["webhookTimestamp"] -= 61_000
    raw, signature = signed(LINEAR_SECRET, body)
    if tamper == "not-json":
        raw = b"not json"
        signature = hmac.new(LINEAR_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    headers = {"Linear-Signature": "0" * 64 if tamper == "signature" else signature}
    if tamper == "missing-signature":
        headers = {}
    response = await api.client.post("/api/linear/webhook", data=raw, headers=headers)
    assert response.status == status
    assert await api.context.store.pending_ticket_wakeups() == []


async def test_deliveries_without_the_ai_label_are_ignored(start_api: ApiFactory, clock: FakeClock) -> None:
    api = await start_api(env={"LINEAR_WEBHOOK_SECRET": LINEAR_SECRET})
    raw, signature = signed(LINEAR_SECRET, linear_delivery(clock, ["bug"]))
    response = await api.client.post("/api/linear/webhook", data=raw, headers={"Linear-Signature": signature})
    assert (response.status, (await response.json())["status"]) == (202, "ignored")
    assert await api.context.store.pending_ticket_wakeups() == []


async def test_a_jira_delivery_is_verified_and_leaves_a_wakeup(start_api: ApiFactory, clock: FakeClock) -> None:
    api = await start_api(env={"JIRA_WEBHOOK_SECRET": JIRA_SECRET})
    body = {
        "webhookEvent": "jira:issue_updated",
        "timestamp": int(clock.now.timestamp() * 1000),
        "issue": {"id": "10001", "key": "PAY-3", "fields": {"labels": ["ai-implement"]}},
    }
    raw, signature = signed(JIRA_SECRET, body)
    headers = {"X-Hub-Signature": f"sha256={signature}", "X-Atlassian-Webhook-Identifier": "jira-1"}
    response = await api.client.post("/api/jira/webhook", data=raw, headers=headers)
    assert (response.status, (await response.json())["ticket"]) == (202, "PAY-3")
    bare = {"X-Hub-Signature": signature}
    assert (await api.client.post("/api/jira/webhook", data=raw, headers=bare)).status == 401
    clock.advance(timedelta(minutes=6))
    late = await api.client.post(
        "/api/jira/webhook", data=raw, headers=headers | {"X-Atlassian-Webhook-Identifier": "2"}
    )
    assert late.status == 401


@pytest.mark.parametrize(
    ("headers", "timestamp"),
    [
        ({"Linear-Signature": "é" * 64}, None),
        ({}, 10**400),
        ({}, float("nan")),
        ({}, "yesterday"),
    ],
    ids=["non-ascii-signature", "huge-timestamp", "nan-timestamp", "text-timestamp"],
)
async def test_odd_deliveries_are_refused_not_crashed_on(
    start_api: ApiFactory, clock: FakeClock, headers: dict[str, str], timestamp: object
) -> None:
    api = await start_api(env={"LINEAR_WEBHOOK_SECRET": LINEAR_SECRET})
    body = linear_delivery(clock, ["AI-Implement"])
    if timestamp is not None:
        body["webhookTimestamp"] = timestamp
    raw = json.dumps(body).encode()
    signature = hmac.new(LINEAR_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    response = await api.client.post("/api/linear/webhook", data=raw, headers={"Linear-Signature": signature} | headers)
    assert response.status == 401
    assert await api.context.store.pending_ticket_wakeups() == []


async def test_an_expired_dedup_entry_cannot_be_removed(api: Api, clock: FakeClock) -> None:
    store = api.context.store
    old = clock.now - timedelta(hours=25)
    await store.record_dedup("id-old", identifier="ENG-9", title="t", team_key="ENG", provider="linear", now=old)
    assert (await api.client.delete("/api/dedup/id-old", headers=await api.login())).status == 404
