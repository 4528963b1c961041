"""Webhooks dispatch without waiting for the poll; caps hold when a poll and a webhook decide together;
a poll costs one query plus paging, whatever the number of mappings."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from controller.kube import DISPATCHES, KubeClient
from controller.operator.housekeeping import Housekeeper
from controller.resources import is_terminal
from controller.sandbox import JiraSandbox, LinearSandbox
from tests.operator.conftest import RuntimeFactory, apply_mapping, cached, dispatch_names
from tests.support.api_fixtures import ApiFactory

SECRET = "linear-webhook-signing-secret"


async def test_a_webhook_dispatches_without_waiting_for_the_poll(
    start_operator: RuntimeFactory,
    start_api: ApiFactory,
    kube: KubeClient,
    namespace: str,
    linear: LinearSandbox,
) -> None:
    await apply_mapping(kube, namespace, "ENG")
    api = await start_api(env={"LINEAR_WEBHOOK_SECRET": SECRET})
    linear.add_webhook(str(api.client.make_url("/api/linear/webhook")), SECRET)
    runtime = await start_operator()
    await cached(runtime, "eng")

    linear.add_issue("ENG", "Webhook-fast", labels=["AI-Implement"])
    attempts = await linear.flush_webhooks()
    assert [attempt.status for attempt in attempts] == [202]
    assert await runtime.wakeups().process_pending() == 1
    assert await dispatch_names(kube, namespace) == ["eng-1-planning-1"]
    assert await runtime.store.pending_ticket_wakeups() == []
    (row,) = await runtime.store.list_issue_snapshots()
    assert (row.identifier, row.readiness, row.blocked_reason) == ("ENG-1", "planning-pending", None)


async def test_the_cap_holds_when_a_poll_and_webhooks_decide_at_once(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox
) -> None:
    await apply_mapping(kube, namespace, "ENG", capacity={"maxInProgressAiIssues": 2})
    issues = [linear.add_issue("ENG", f"Ticket {n}", labels=["AI-Implement"]) for n in range(6)]
    runtime = await start_operator()
    await cached(runtime, "eng")
    for issue in issues:
        await runtime.store.request_ticket_wakeup("linear", issue.id, runtime.clock())
    (poller,) = [p for p in runtime.pollers() if p.source.provider == "linear"]
    await asyncio.gather(poller.poll_once(), runtime.wakeups().process_pending(), poller.poll_once())
    dispatches = (await kube.list(DISPATCHES, namespace)).items
    active = [d for d in dispatches if not is_terminal((d.get("status") or {}).get("phase"))]
    assert len(active) == 2


async def test_one_linear_poll_costs_one_query_plus_paging_for_1_or_200_mappings(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox
) -> None:
    for n in range(150):
        linear.add_issue("ENG", f"Ticket {n}", labels=["AI-Implement"])
    await apply_mapping(kube, namespace, "ENG")
    runtime = await start_operator()
    await cached(runtime, "eng")
    (poller,) = [p for p in runtime.pollers() if p.source.provider == "linear"]
    before = len(linear.requests_to("POST", "/graphql"))
    await poller.poll_once()
    with_one = len(linear.requests_to("POST", "/graphql")) - before

    names = [f"team-{n}" for n in range(199)]
    await asyncio.gather(
        *(
            apply_mapping(
                kube, namespace, f"TEAM_{n}", ticketing={"provider": "linear", "linear": {"teamKey": f"T{n}"}}
            )
            for n in range(199)
        )
    )
    await cached(runtime, "eng", *names)
    before = len(linear.requests_to("POST", "/graphql"))
    await poller.poll_once()
    with_two_hundred = len(linear.requests_to("POST", "/graphql")) - before
    assert with_one == with_two_hundred == 2


async def test_one_jira_poll_costs_one_search_plus_paging_for_200_mappings(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, jira: JiraSandbox
) -> None:
    for n in range(3):
        jira.add_issue("PAY", f"Ticket {n}", labels=["AI-Implement"], fields={"Repo": "ledger"})
    await asyncio.gather(
        *(
            apply_mapping(
                kube,
                namespace,
                f"PAY_{n}",
                ticketing={
                    "provider": "jira",
                    "jira": {"jql": "project = PAY", "repoField": "customfield_10042", "repoFieldValue": f"repo-{n}"},
                },
            )
            for n in range(200)
        )
    )
    runtime = await start_operator()
    await cached(runtime, *[f"pay-{n}" for n in range(200)])
    (poller,) = [p for p in runtime.pollers() if p.source.provider == "jira"]
    before = len([r for r in jira.requests if "/search/jql" in r.path])
    await poller.poll_once()
    assert len([r for r in jira.requests if "/search/jql" in r.path]) - before == 1


async def test_housekeeping_forgets_what_no_longer_matters(start_operator: RuntimeFactory) -> None:
    runtime = await start_operator()
    store, now = runtime.store, runtime.clock()
    old = now - timedelta(days=8)
    await store.record_dedup("old", identifier="ENG-1", title="t", team_key="ENG", provider="linear", now=old)
    await store.record_dedup("new", identifier="ENG-2", title="t", team_key="ENG", provider="linear", now=now)
    await store.first_seen_delivery("linear", "ancient", old)
    await store.first_seen_delivery("linear", "recent", now)
    removed = await Housekeeper(store, runtime.clock).sweep()
    assert removed == {
        "dedup": 1,
        "webhookDeliveries": 1,
        "runnerTokens": 0,
        "reaperHistory": 0,
        "sessionResets": 0,
    }
    assert [entry.issue_id for entry in await store.list_dedup_window(now)] == ["new"]
    assert not await store.first_seen_delivery("linear", "recent", now)


async def test_a_jira_webhook_dispatches_through_the_repo_field(
    start_operator: RuntimeFactory, start_api: ApiFactory, kube: KubeClient, namespace: str, jira: JiraSandbox
) -> None:
    scope = {"jql": "project = PAY", "repoField": "customfield_10042", "repoFieldValue": "ledger"}
    await apply_mapping(kube, namespace, "PAY", ticketing={"provider": "jira", "jira": scope})
    api = await start_api(env={"JIRA_WEBHOOK_SECRET": SECRET})
    jira.add_webhook(str(api.client.make_url("/api/jira/webhook")), SECRET)
    runtime = await start_operator()
    await cached(runtime, "pay")
    jira.add_issue("PAY", "Ledger fix", labels=["AI-Implement"], fields={"Repo": "ledger"})
    assert [attempt.status for attempt in await jira.flush_webhooks()] == [202]
    assert await runtime.wakeups().process_pending() == 1
    assert await dispatch_names(kube, namespace) == ["pay-1-planning-1"]


async def test_a_ticket_that_lost_its_label_is_not_dispatched_by_its_webhook(
    start_operator: RuntimeFactory, kube: KubeClient, namespace: str, linear: LinearSandbox
) -> None:
    await apply_mapping(kube, namespace, "ENG")
    issue = linear.add_issue("ENG", "Changed my mind")
    runtime = await start_operator()
    await cached(runtime, "eng")
    await runtime.store.request_ticket_wakeup("linear", issue.id, runtime.clock())
    assert await runtime.wakeups().process_pending() == 1
    assert await dispatch_names(kube, namespace) == []
