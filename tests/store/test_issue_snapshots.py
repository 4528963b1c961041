"""The inbox snapshot: replaced whole per provider, in one transaction."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from controller.store import IssueSnapshot, Store, TicketingProvider
from tests.store.moments import T0


def snapshot(issue_id: str, provider: TicketingProvider = "linear", **overrides: Any) -> IssueSnapshot:
    ticket = IssueSnapshot(
        issue_id=issue_id,
        identifier=f"ENG-{issue_id}",
        title=f"Ticket {issue_id}",
        url=f"https://tickets.example/{issue_id}",
        team_key="ENG",
        provider=provider,
        state="started",
        readiness="ready",
        blocked_reason=None,
        updated_at=T0 - timedelta(minutes=5),
    )
    return replace(ticket, **overrides)


async def test_a_snapshot_comes_back_as_it_was_stored(store: Store) -> None:
    stored = snapshot("1", readiness="planning_pending", blocked_reason="concurrency cap")

    await store.replace_issue_snapshot("linear", [stored])

    assert await store.list_issue_snapshots() == [stored]


async def test_replacing_drops_tickets_the_new_poll_no_longer_saw(store: Store) -> None:
    await store.replace_issue_snapshot("linear", [snapshot("1"), snapshot("2")])

    await store.replace_issue_snapshot("linear", [snapshot("2", state="completed"), snapshot("3")])

    listed = await store.list_issue_snapshots()
    assert [(ticket.issue_id, ticket.state) for ticket in listed] == [("2", "completed"), ("3", "started")]


async def test_replacing_one_provider_leaves_the_other_alone(store: Store) -> None:
    await store.replace_issue_snapshot("jira", [snapshot("J1", provider="jira")])
    await store.replace_issue_snapshot("linear", [snapshot("L1")])

    await store.replace_issue_snapshot("linear", [])

    assert [ticket.issue_id for ticket in await store.list_issue_snapshots()] == ["J1"]


async def test_a_failed_replacement_keeps_the_previous_snapshot(store: Store) -> None:
    previous = [snapshot("1"), snapshot("2")]
    await store.replace_issue_snapshot("linear", previous)

    with pytest.raises(IntegrityError):
        await store.replace_issue_snapshot("linear", [snapshot("3"), snapshot("3")])

    assert await store.list_issue_snapshots() == previous


async def test_tickets_of_another_provider_are_refused_by_identifier(store: Store) -> None:
    with pytest.raises(ValueError, match="linear snapshot with tickets of another provider: ENG-J7"):
        await store.replace_issue_snapshot("linear", [snapshot("1"), snapshot("J7", provider="jira")])

    assert await store.list_issue_snapshots() == []


async def test_the_inbox_lists_by_team_then_identifier(store: Store) -> None:
    await store.replace_issue_snapshot(
        "linear",
        [snapshot("2", team_key="WEB"), snapshot("9", team_key="API"), snapshot("1", team_key="WEB")],
    )

    listed = await store.list_issue_snapshots()

    assert [(ticket.team_key, ticket.identifier) for ticket in listed] == [
        ("API", "ENG-9"),
        ("WEB", "ENG-1"),
        ("WEB", "ENG-2"),
    ]


async def test_upsert_refreshes_one_ticket_and_keeps_the_others(store: Store) -> None:
    first = IssueSnapshot(
        issue_id="a",
        identifier="ENG-1",
        title="one",
        url="u",
        team_key="ENG",
        provider="linear",
        state="unstarted",
        readiness="ready",
        blocked_reason=None,
        updated_at=T0,
    )
    second = replace(first, issue_id="b", identifier="ENG-2", title="two")
    await store.replace_issue_snapshot("linear", [first, second])
    await store.upsert_issue_snapshot(
        replace(first, blocked_reason="concurrency-cap", message="1 of 1 runs in progress", readiness="blocked")
    )
    rows = {row.identifier: row for row in await store.list_issue_snapshots()}
    assert (rows["ENG-1"].blocked_reason, rows["ENG-1"].message) == ("concurrency-cap", "1 of 1 runs in progress")
    assert rows["ENG-2"].title == "two"
    await store.upsert_issue_snapshot(replace(first, issue_id="c", identifier="ENG-3"))
    assert len(await store.list_issue_snapshots()) == 3


def ordered(tickets: list[IssueSnapshot]) -> list[str]:
    return [ticket.issue_id for ticket in tickets]


async def test_pages_of_the_inbox_follow_its_order_both_ways_with_the_id_breaking_ties(store: Store) -> None:
    tickets = [
        snapshot("7", team_key="WEB", identifier="WEB-1"),
        snapshot("2", team_key="API", identifier="API-2"),
        snapshot("b", team_key="API", identifier="API-1"),
        snapshot("a", team_key="API", identifier="API-1"),
        snapshot("5", team_key="WEB", identifier="WEB-0"),
    ]
    await store.replace_issue_snapshot("linear", tickets)
    order = ["a", "b", "2", "5", "7"]

    first = await store.issue_snapshot_page(limit=2)
    second = await store.issue_snapshot_page(after=("API", "API-1", "b"), limit=2)
    last = await store.issue_snapshot_page(after=("WEB", "WEB-0", "5"), limit=2)
    beyond = await store.issue_snapshot_page(after=("WEB", "WEB-1", "7"), limit=2)
    back = await store.issue_snapshot_page(before=("WEB", "WEB-0", "5"), limit=2)
    front = await store.issue_snapshot_page(before=("API", "API-1", "b"), limit=2)

    assert [ordered(page.snapshots) for page in (first, second, last)] == [order[0:2], order[2:4], order[4:]]
    assert [(page.more_before, page.more_after) for page in (first, second, last)] == [
        (False, True),
        (True, True),
        (True, False),
    ]
    assert (ordered(beyond.snapshots), beyond.more_before, beyond.more_after) == ([], True, False)
    assert (ordered(back.snapshots), back.more_before, back.more_after) == (["b", "2"], True, True)
    assert (ordered(front.snapshots), front.more_before, front.more_after) == (["a"], False, True)
    assert {page.total for page in (first, second, last, beyond, back, front)} == {5}


async def test_a_page_after_a_ticket_that_went_away_starts_where_it_was(store: Store) -> None:
    await store.replace_issue_snapshot("linear", [snapshot("1"), snapshot("2"), snapshot("3")])
    page = await store.issue_snapshot_page(limit=2)
    await store.replace_issue_snapshot("linear", [snapshot("1"), snapshot("3")])

    following = await store.issue_snapshot_page(after=("ENG", "ENG-2", "2"), limit=2)

    assert (ordered(page.snapshots), ordered(following.snapshots)) == (["1", "2"], ["3"])
    assert (following.more_before, following.more_after, following.total) == (True, False, 2)


async def test_an_empty_inbox_is_one_empty_page(store: Store) -> None:
    page = await store.issue_snapshot_page(limit=10)

    assert (list(page.snapshots), page.more_before, page.more_after, page.total) == ([], False, False, 0)
    with pytest.raises(ValueError, match="not both"):
        await store.issue_snapshot_page(after=("A", "A-1", "1"), before=("B", "B-1", "2"), limit=1)


async def test_counts_by_team_cover_the_teams_asked_for(store: Store) -> None:
    await store.replace_issue_snapshot(
        "linear",
        [
            snapshot("1", team_key="ENG", readiness="ready", blocked_reason="concurrency-cap"),
            snapshot("2", team_key="ENG", readiness="ready"),
            snapshot("3", team_key="ENG", readiness="planning-pending", blocked_reason="paused"),
            snapshot("4", team_key="OPS", readiness="done"),
            snapshot("5", team_key="WEB", readiness="ready"),
        ],
    )

    counts = await store.issue_counts_by_team(["ENG", "OPS", "NONE"])

    assert set(counts) == {"ENG", "OPS"}
    assert (dict(counts["ENG"].by_readiness), counts["ENG"].blocked) == ({"ready": 2, "planning-pending": 1}, 2)
    assert (dict(counts["OPS"].by_readiness), counts["OPS"].blocked) == ({"done": 1}, 0)
    assert await store.issue_counts_by_team([]) == {}
