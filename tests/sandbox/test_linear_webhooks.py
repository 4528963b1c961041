"""Linear's `Issue` webhooks from the sandbox: signed exactly as Linear signs, stamped in ms, retried, replayable.

The receiver here is a stand-in that records what arrives; the checks a real receiver makes
(HMAC over the raw bytes, the 60-second window, one action per delivery id) are written out in
the tests, independently of the sandbox's own `linear_signature()`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from controller.sandbox import LinearSandbox, linear_schema, serve
from controller.sandbox.linear import linear_signature
from controller.ticketing.linear import LinearClient
from tests.sandbox.conftest import LINEAR_KEY, LINEAR_WEBHOOK_SECRET
from tests.sandbox.support import FakeTime

FRESHNESS_MS = 60_000
"""What Linear's SDK accepts between `webhookTimestamp` and the receiver's clock."""


@dataclass
class Arrival:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records deliveries and answers with the statuses it is told, 200 once they run out."""

    url: str = ""
    arrivals: list[Arrival] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.arrivals.append(Arrival(dict(request.headers), await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200, text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/linear", receiver.handle)
    async with serve(app) as url:
        receiver.url = f"{url}/hooks/linear"
        yield receiver


def genuine(arrival: Arrival, secret: str, now: float) -> bool:
    """A receiver's check, written here from the contract: hex HMAC-SHA256 of the raw body, fresh within 60 s."""
    expected = hmac.new(secret.encode(), arrival.body, hashlib.sha256).hexdigest()
    signature = arrival.headers.get("Linear-Signature", "")
    fresh = abs(now * 1000 - arrival.json()["webhookTimestamp"]) <= FRESHNESS_MS
    return hmac.compare_digest(expected, signature) and fresh


@pytest.fixture
def hooked(linear_workspace: LinearSandbox, receiver: Receiver) -> LinearSandbox:
    linear_workspace.add_webhook(receiver.url, LINEAR_WEBHOOK_SECRET)
    return linear_workspace


async def test_a_new_issue_is_delivered_signed_and_stamped_in_milliseconds(
    hooked: LinearSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    issue = hooked.add_issue("ENG", "Ship it", labels=["AI-Implement"])

    [attempt] = await hooked.flush_webhooks()

    assert (attempt.status, attempt.accepted) == (200, True)
    [arrival] = receiver.arrivals
    assert genuine(arrival, LINEAR_WEBHOOK_SECRET, fake_time.now)
    body = arrival.json()
    assert body["webhookTimestamp"] == int(fake_time.now * 1000)
    assert arrival.headers["Linear-Timestamp"] == str(body["webhookTimestamp"])
    assert arrival.headers["Linear-Event"] == "Issue"
    assert arrival.headers["Linear-Delivery"] == attempt.delivery_id
    assert arrival.headers["Content-Type"] == "application/json; charset=utf-8"
    assert (body["action"], body["type"], body["url"]) == ("create", "Issue", issue.url)
    assert "updatedFrom" not in body
    data = body["data"]
    assert (data["id"], data["identifier"], data["team"]["key"]) == (issue.id, "ENG-1", "ENG")
    assert [label["name"] for label in data["labels"]] == ["AI-Implement"]
    assert data["state"]["type"] == "unstarted"
    assert body["actor"]["type"] == "user"
    assert body["organizationId"] == hooked.organization_id
    assert linear_signature(LINEAR_WEBHOOK_SECRET.encode(), arrival.body) == arrival.headers["Linear-Signature"]


async def test_an_update_carries_the_previous_values(
    hooked: LinearSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    issue = hooked.add_issue("ENG", "Ship it")
    created_at = issue.updated_at
    fake_time.now += 5
    hooked.update_issue(issue, state="In Progress", add_labels=["AI-Implement"])

    await hooked.flush_webhooks()

    create, update = (arrival.json() for arrival in receiver.arrivals)
    assert update["action"] == "update"
    todo = next(state for state in hooked.workflow_states.values() if state.name == "Todo")
    assert update["updatedFrom"]["stateId"] == todo.id
    assert update["updatedFrom"]["labelIds"] == []
    assert update["updatedFrom"]["startedAt"] is None
    assert update["updatedFrom"]["updatedAt"] == create["data"]["updatedAt"]
    assert update["data"]["updatedAt"] > create["data"]["updatedAt"]
    assert issue.updated_at == created_at + 5
    assert update["data"]["state"]["name"] == "In Progress"
    assert update["data"]["startedAt"] == update["data"]["updatedAt"]


async def test_a_change_that_changes_nothing_sends_nothing(hooked: LinearSandbox, receiver: Receiver) -> None:
    issue = hooked.add_issue("ENG", "Ship it", labels=["AI-Implement"])
    hooked.update_issue(issue, title="Ship it", add_labels=["AI-Implement"])

    await hooked.flush_webhooks()

    assert [arrival.json()["action"] for arrival in receiver.arrivals] == ["create"]


async def test_mutations_through_the_api_are_delivered_too(
    hooked: LinearSandbox, receiver: Receiver, linear: LinearClient
) -> None:
    issue = hooked.add_issue("ENG", "Ship it", labels=["AI-Implement"])
    label = await linear.ensure_label("AI-Working", "ENG")
    await linear.add_label(issue.id, label.id)
    await linear.add_label(issue.id, label.id)

    await hooked.flush_webhooks()

    create, update = (arrival.json() for arrival in receiver.arrivals)
    assert update["action"] == "update"
    assert update["updatedFrom"]["labelIds"] == create["data"]["labelIds"]
    assert update["data"]["labelIds"] == [*create["data"]["labelIds"], label.id]
    [user] = hooked.users.values()
    assert update["actor"]["id"] == user.id, "the API key's user made the change"


async def test_archive_is_an_update_and_delete_is_a_remove(hooked: LinearSandbox, receiver: Receiver) -> None:
    archived = hooked.add_issue("ENG", "old")
    deleted = hooked.add_issue("ENG", "wrong")
    hooked.archive_issue(archived)
    hooked.delete_issue(deleted)

    await hooked.flush_webhooks()

    events = [(body["action"], body["data"]["identifier"]) for body in (a.json() for a in receiver.arrivals)]
    assert events == [("create", "ENG-1"), ("create", "ENG-2"), ("update", "ENG-1"), ("remove", "ENG-2")]
    remove = receiver.arrivals[-1].json()
    assert remove["data"]["trashed"] is True
    assert remove["data"]["archivedAt"] is not None


async def test_a_team_webhook_sees_only_its_team(linear_workspace: LinearSandbox, receiver: Receiver) -> None:
    linear_workspace.add_webhook(receiver.url, LINEAR_WEBHOOK_SECRET, team_key="OPS")
    linear_workspace.add_issue("ENG", "not for OPS")
    linear_workspace.add_issue("OPS", "for OPS")

    await linear_workspace.flush_webhooks()

    assert [arrival.json()["data"]["identifier"] for arrival in receiver.arrivals] == ["OPS-1"]


async def test_nothing_is_sent_until_flushed(hooked: LinearSandbox, receiver: Receiver) -> None:
    hooked.add_issue("ENG", "Ship it")

    assert receiver.arrivals == []
    assert len(hooked.outbox.pending) == 1
    await hooked.flush_webhooks()
    assert len(receiver.arrivals) == 1
    assert hooked.outbox.pending == []
    assert await hooked.flush_webhooks() == []


async def test_a_redelivery_is_the_same_bytes_and_delivery_id(
    hooked: LinearSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    hooked.add_issue("ENG", "Ship it")
    await hooked.flush_webhooks()
    [delivery] = hooked.webhook_deliveries
    fake_time.now += 10

    replay = await hooked.redeliver(delivery)

    first, second = receiver.arrivals
    assert (second.body, second.headers["Linear-Delivery"]) == (first.body, first.headers["Linear-Delivery"])
    assert second.headers["Linear-Signature"] == first.headers["Linear-Signature"]
    assert genuine(second, LINEAR_WEBHOOK_SECRET, fake_time.now), "still valid: only the delivery id betrays it"
    assert replay.delivery_id == delivery.id
    assert delivery.attempts == [delivery.attempts[0], replay]


async def test_a_stale_delivery_is_correctly_signed_but_old(
    hooked: LinearSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    hooked.add_issue("ENG", "Ship it")
    await hooked.flush_webhooks()
    [delivery] = hooked.webhook_deliveries

    stale = await hooked.deliver_stale(delivery, age=61)

    arrival = receiver.arrivals[-1]
    expected = hmac.new(LINEAR_WEBHOOK_SECRET.encode(), arrival.body, hashlib.sha256).hexdigest()
    assert arrival.headers["Linear-Signature"] == expected
    assert arrival.json()["webhookTimestamp"] == int((fake_time.now - 61) * 1000)
    assert arrival.headers["Linear-Timestamp"] == str(int((fake_time.now - 61) * 1000))
    assert not genuine(arrival, LINEAR_WEBHOOK_SECRET, fake_time.now)
    assert stale.delivery_id != delivery.id, "a new delivery id, so replay protection is not what rejects it"
    assert arrival.json()["data"] == receiver.arrivals[0].json()["data"]


async def test_a_badly_signed_delivery_is_fresh_but_forged(
    hooked: LinearSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    hooked.add_issue("ENG", "Ship it")
    await hooked.flush_webhooks()
    [delivery] = hooked.webhook_deliveries

    forged = await hooked.deliver_with_bad_signature(delivery)

    arrival = receiver.arrivals[-1]
    assert abs(arrival.json()["webhookTimestamp"] - fake_time.now * 1000) <= FRESHNESS_MS
    assert not genuine(arrival, LINEAR_WEBHOOK_SECRET, fake_time.now)
    assert forged.delivery_id == arrival.headers["Linear-Delivery"] != delivery.id
    assert len(hooked.outbox.pending) == 0, "forged copies are never retried by the sandbox"


async def test_failed_deliveries_are_retried_after_a_minute_an_hour_and_six_hours(
    hooked: LinearSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    receiver.statuses = [500, 503, 202]
    hooked.add_issue("ENG", "Ship it")
    [first] = await hooked.flush_webhooks()
    assert (first.status, first.accepted) == (500, False)

    assert await hooked.flush_webhooks() == [], "not due before a minute has passed"
    fake_time.now += 60
    [second] = await hooked.flush_webhooks()
    fake_time.now += 3_600
    [third] = await hooked.flush_webhooks()
    fake_time.now += 21_600
    [fourth] = await hooked.flush_webhooks()

    assert [attempt.status for attempt in (first, second, third, fourth)] == [500, 503, 202, 200]
    assert not third.accepted, "Linear wants 200, not any 2xx"
    [delivery] = hooked.webhook_deliveries
    assert delivery.delivered
    assert {arrival.headers["Linear-Delivery"] for arrival in receiver.arrivals} == {delivery.id}
    stamps = [arrival.json()["webhookTimestamp"] for arrival in receiver.arrivals]
    assert stamps == sorted(set(stamps)), "each attempt is stamped and signed anew"
    assert genuine(receiver.arrivals[-1], LINEAR_WEBHOOK_SECRET, fake_time.now)


async def test_delivery_stops_after_three_retries(
    hooked: LinearSandbox, receiver: Receiver, fake_time: FakeTime
) -> None:
    receiver.statuses = [500] * 10
    hooked.add_issue("ENG", "Ship it")
    for wait in (0, 60, 3_600, 21_600, 86_400):
        fake_time.now += wait
        await hooked.flush_webhooks()

    [delivery] = hooked.webhook_deliveries
    assert len(delivery.attempts) == 4
    assert delivery.due_at is None
    assert not delivery.delivered


async def test_an_unreachable_receiver_counts_as_a_failed_attempt(linear_workspace: LinearSandbox) -> None:
    linear_workspace.add_webhook("http://127.0.0.1:9/nobody-listens", LINEAR_WEBHOOK_SECRET)
    linear_workspace.add_issue("ENG", "Ship it")

    [attempt] = await linear_workspace.flush_webhooks()

    assert attempt.status is None
    assert not attempt.accepted
    assert "ConnectError" in attempt.response


async def test_background_delivery_needs_no_flush(fake_time: FakeTime, receiver: Receiver) -> None:
    sandbox = LinearSandbox(clock=fake_time.clock, deliver_webhooks_in_background=True)
    sandbox.add_user("Ada Lovelace", "ada@example.com", api_key=LINEAR_KEY)
    sandbox.add_team("ENG")
    sandbox.add_webhook(receiver.url, LINEAR_WEBHOOK_SECRET)
    async with sandbox.running():
        sandbox.add_issue("ENG", "Ship it")
        for _ in range(200):
            if receiver.arrivals:
                break
            await asyncio.sleep(0.01)

    assert len(receiver.arrivals) == 1
    assert sandbox.webhook_deliveries[0].delivered


def test_webhooks_need_a_secret(linear_workspace: LinearSandbox) -> None:
    with pytest.raises(ValueError, match="signing secret"):
        linear_workspace.add_webhook("https://example.com/hook", "")


async def test_every_payload_field_exists_in_linears_webhook_schema(hooked: LinearSandbox, receiver: Receiver) -> None:
    issue = hooked.add_issue("ENG", "Ship it", labels=["AI-Implement"])
    hooked.update_issue(issue, state="Done")
    await hooked.flush_webhooks()
    schema = linear_schema()

    def fields(type_name: str) -> set[str]:
        return set(getattr(schema.type_map[type_name], "fields", {}))

    def required(type_name: str) -> set[str]:
        type_fields = getattr(schema.type_map[type_name], "fields", {})
        return {name for name, definition in type_fields.items() if str(definition.type).endswith("!")}

    for arrival in receiver.arrivals:
        body = arrival.json()
        assert required("EntityWebhookPayload") <= set(body) <= fields("EntityWebhookPayload")
        assert set(body["actor"]) <= fields("UserActorWebhookPayload")
        data = body["data"]
        assert required("IssueWebhookPayload") <= set(data) <= fields("IssueWebhookPayload")
        assert set(data["team"]) <= fields("TeamChildWebhookPayload")
        assert set(data["state"]) <= fields("WorkflowStateChildWebhookPayload")
        for label in data["labels"]:
            assert set(label) <= fields("IssueLabelChildWebhookPayload")
        assert set(body.get("updatedFrom", {})) <= fields("IssueWebhookPayload")
