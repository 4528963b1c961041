"""Ticket wakeups: recorded by webhooks, collapsed per ticket, cleared only when unchanged."""

from datetime import timedelta

from controller.store import Store
from tests.store.moments import T0


async def test_wakeups_collapse_per_ticket_and_come_oldest_first(store: Store) -> None:
    await store.request_ticket_wakeup("linear", "ENG-2", T0 + timedelta(seconds=1))
    await store.request_ticket_wakeup("jira", "PAY-1", T0)
    await store.request_ticket_wakeup("linear", "ENG-2", T0 + timedelta(seconds=2))
    pending = await store.pending_ticket_wakeups()
    assert [(w.provider, w.ticket_ref, w.received_at) for w in pending] == [
        ("jira", "PAY-1", T0),
        ("linear", "ENG-2", T0 + timedelta(seconds=2)),
    ]


async def test_clearing_keeps_a_wakeup_that_arrived_meanwhile(store: Store) -> None:
    await store.request_ticket_wakeup("linear", "ENG-2", T0)
    (seen,) = await store.pending_ticket_wakeups()
    await store.request_ticket_wakeup("linear", "ENG-2", T0 + timedelta(seconds=5))
    assert not await store.clear_ticket_wakeup(seen)
    (newer,) = await store.pending_ticket_wakeups()
    assert await store.clear_ticket_wakeup(newer)
    assert await store.pending_ticket_wakeups() == []


async def test_dispatch_history_of_many_tickets(store: Store) -> None:
    for number in range(600):
        await store.append_dispatch_log(
            now=T0 + timedelta(seconds=number),
            issue_id=f"issue-{number}",
            identifier=f"ENG-{number}",
            title="t",
            team_key="ENG",
            repo="acme/web",
            kind="planning",
            iteration=1,
            runner_mode="github-actions",
            session_image="img",
            status="dispatched",
        )
    history = await store.dispatch_log_for_issues([f"issue-{n}" for n in range(0, 600, 2)] + ["unknown"])
    assert [entry.identifier for entry in history] == [f"ENG-{n}" for n in range(0, 600, 2)]
    assert await store.dispatch_log_for_issues([]) == []
