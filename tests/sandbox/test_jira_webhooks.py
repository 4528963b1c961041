"""Admin webhooks from the Jira sandbox: signed bytes, stable identifiers, changelogs, Jira's retry rules."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from controller.sandbox import JiraSandbox, serve
from controller.sandbox.jira import jira_signature
from controller.ticketing.jira import JiraClient
from tests.sandbox.conftest import JIRA_WEBHOOK_SECRET
from tests.sandbox.support import START, FakeTime

SECRET = JIRA_WEBHOOK_SECRET.encode()


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook endpoint that records what arrives and answers the statuses it is told to, in turn."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(await request.read(), dict(request.headers)))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200, text="ok")


def signature_is_valid(received: Received, secret: bytes = SECRET) -> bool:
    """What the controller's receiver must do: HMAC-SHA256 over the exact bytes, compared in constant time."""
    expected = "sha256=" + hmac.new(secret, received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers.get("X-Hub-Signature", ""))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/api/jira/webhook", receiver.handle)
    async with serve(app) as url:
        receiver.url = f"{url}/api/jira/webhook"
        yield receiver


async def test_changes_through_seeding_and_the_api_are_delivered_signed(
    jira: JiraClient, jira_site: JiraSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    jira_site.add_webhook(receiver.url, JIRA_WEBHOOK_SECRET)
    jira_site.add_issue("ENG", "Retry imports", labels=["AI-Implement"], fields={"Repo": "repo-a"})
    await jira.move_to_implementing("ENG-1")
    jira_site.update_issue("ENG-1", labels=["AI-Implement", "p1"])
    jira_site.delete_issue("ENG-1")
    assert receiver.received == [], "nothing is sent before the test flushes"

    attempts = await jira_site.flush_webhooks()

    assert [attempt.status for attempt in attempts] == [200, 200, 200, 200]
    assert all(signature_is_valid(received) for received in receiver.received)
    created, transitioned, labelled, deleted = (received.json() for received in receiver.received)
    assert (created["webhookEvent"], created["issue_event_type_name"]) == ("jira:issue_created", "issue_created")
    assert created["timestamp"] == int(START * 1000)
    assert created["issue"]["key"] == "ENG-1"
    assert created["issue"]["fields"]["customfield_10042"]["value"] == "repo-a"
    assert (transitioned["webhookEvent"], transitioned["issue_event_type_name"]) == (
        "jira:issue_updated",
        "issue_generic",
    )
    [status_change] = transitioned["changelog"]["items"]
    assert {key: status_change[key] for key in ("field", "fieldtype", "fromString", "toString")} == {
        "field": "status",
        "fieldtype": "jira",
        "fromString": "To Do",
        "toString": "Implementing",
    }
    assert transitioned["user"]["displayName"] == "Grace Hopper"
    assert transitioned["issue"]["fields"]["status"]["name"] == "Implementing"
    [label_change] = labelled["changelog"]["items"]
    assert (label_change["fromString"], label_change["toString"]) == ("AI-Implement", "AI-Implement p1")
    assert deleted["webhookEvent"] == "jira:issue_deleted"
    identifiers = [received.headers["X-Atlassian-Webhook-Identifier"] for received in receiver.received]
    assert len(set(identifiers)) == 4
    first = receiver.received[0].headers
    assert first["User-Agent"] == "Atlassian Webhook HTTP Client"
    assert first["X-Atlassian-Webhook-Flow"] == "Primary"
    assert "X-Atlassian-Webhook-Retry" not in first


async def test_a_comment_is_an_issue_update_and_a_comment_event_for_those_who_ask(
    jira: JiraClient, jira_site: JiraSandbox, receiver: Receiver
) -> None:
    jira_site.add_issue("ENG", "Retry imports")
    jira_site.add_webhook(receiver.url, JIRA_WEBHOOK_SECRET, events=["jira:issue_updated", "comment_created"])

    await jira.add_comment("ENG-1", "Dispatch started", idempotency_key="k1")
    await jira_site.flush_webhooks()

    updated, commented = (received.json() for received in receiver.received)
    assert (updated["webhookEvent"], updated["issue_event_type_name"]) == ("jira:issue_updated", "issue_commented")
    assert commented["webhookEvent"] == "comment_created"
    assert updated["comment"]["body"]["content"][0]["content"][0]["text"] == "Dispatch started"


async def test_a_jql_filter_and_the_event_list_choose_what_is_sent(jira_site: JiraSandbox, receiver: Receiver) -> None:
    jira_site.add_webhook(receiver.url, JIRA_WEBHOOK_SECRET, jql="project = OPS", events=["jira:issue_created"])
    jira_site.add_issue("ENG", "Not this project")
    jira_site.add_issue("OPS", "This one")
    jira_site.update_issue("OPS-1", summary="Not this event")

    await jira_site.flush_webhooks()

    assert [received.json()["issue"]["key"] for received in receiver.received] == ["OPS-1"]


async def test_a_failed_delivery_is_retried_minutes_later_under_the_same_identifier(
    jira_site: JiraSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    jira_site.add_webhook(receiver.url, JIRA_WEBHOOK_SECRET)
    receiver.statuses = [503]
    jira_site.add_issue("ENG", "Retry imports")

    [failed] = await jira_site.flush_webhooks()
    assert (failed.status, failed.accepted) == (503, False)
    assert await jira_site.flush_webhooks() == [], "not before the retry delay"
    await fake_time.sleep(60)
    [retried] = await jira_site.flush_webhooks()

    assert (retried.status, retried.accepted) == (200, True)
    first, second = receiver.received
    assert second.headers["X-Atlassian-Webhook-Identifier"] == first.headers["X-Atlassian-Webhook-Identifier"]
    assert second.headers["X-Atlassian-Webhook-Retry"] == "1"
    assert signature_is_valid(second)
    [delivery] = jira_site.webhook_deliveries
    assert delivery.delivered
    assert delivery.due_at is None


@pytest.mark.parametrize(("status", "retried"), [(400, False), (404, False), (409, True), (429, True), (500, True)])
async def test_jira_retries_only_some_answers(
    jira_site: JiraSandbox, receiver: Receiver, fake_time: FakeTime, status: int, retried: bool
) -> None:
    jira_site.add_webhook(receiver.url, JIRA_WEBHOOK_SECRET)
    receiver.statuses = [status]
    jira_site.add_issue("ENG", "Retry imports")

    await jira_site.flush_webhooks()
    await fake_time.sleep(3600)
    await jira_site.flush_webhooks()

    assert len(receiver.received) == (2 if retried else 1)


async def test_replays_stale_copies_and_bad_signatures_for_the_receivers_tests(
    jira_site: JiraSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    jira_site.add_webhook(receiver.url, JIRA_WEBHOOK_SECRET)
    jira_site.add_issue("ENG", "Retry imports")
    await jira_site.flush_webhooks()
    [delivery] = jira_site.webhook_deliveries
    await fake_time.sleep(30)

    replay = await jira_site.redeliver(delivery)
    stale = await jira_site.deliver_stale(delivery, age=600)
    forged = await jira_site.deliver_with_bad_signature(delivery)

    original, replayed, stale_copy, forged_copy = receiver.received
    assert (replayed.body, replayed.headers["X-Atlassian-Webhook-Identifier"]) == (
        original.body,
        original.headers["X-Atlassian-Webhook-Identifier"],
    )
    assert replay.delivery_id == delivery.id
    assert signature_is_valid(stale_copy)
    assert stale_copy.json()["timestamp"] == int((START + 30 - 600) * 1000)
    assert stale.delivery_id != delivery.id
    assert not signature_is_valid(forged_copy)
    assert forged.delivery_id not in (delivery.id, stale.delivery_id)


async def test_a_webhook_without_a_secret_is_sent_unsigned(jira_site: JiraSandbox, receiver: Receiver) -> None:
    jira_site.add_webhook(receiver.url, None)
    jira_site.add_issue("ENG", "Retry imports")

    await jira_site.flush_webhooks()

    [received] = receiver.received
    assert "X-Hub-Signature" not in received.headers


async def test_in_background_mode_deliveries_go_out_without_a_flush(receiver: Receiver, fake_time: FakeTime) -> None:
    sandbox = JiraSandbox(clock=fake_time.clock, webhooks_in_background=True)
    sandbox.add_site()
    sandbox.add_project("ENG")
    async with sandbox.running():
        sandbox.add_webhook(receiver.url, JIRA_WEBHOOK_SECRET)
        sandbox.add_issue("ENG", "Retry imports")

    [received] = receiver.received
    assert signature_is_valid(received)


def test_the_signature_is_the_hex_hmac_of_the_exact_body() -> None:
    assert jira_signature(b"secret", b'{"a":1}') == (
        "sha256=" + hmac.new(b"secret", b'{"a":1}', hashlib.sha256).hexdigest()
    )


def test_unknown_events_are_refused(jira_site: JiraSandbox) -> None:
    with pytest.raises(ValueError, match="unknown Jira webhook events"):
        jira_site.add_webhook("http://127.0.0.1:9/hook", None, events=["jira:issue_exploded"])
