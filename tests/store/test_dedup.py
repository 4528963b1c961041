"""The 24-hour dedup window: boundaries, refreshes, removal and purging."""

from datetime import timedelta

import pytest

from controller.store import DEDUP_WINDOW, Store, TicketingProvider
from tests.store.moments import T0


async def dispatched(
    store: Store, issue_id: str, minutes_after_t0: float, provider: TicketingProvider = "linear"
) -> None:
    await store.record_dedup(
        issue_id,
        identifier=f"ENG-{issue_id}",
        title=f"Ticket {issue_id}",
        team_key="ENG",
        provider=provider,
        now=T0 + timedelta(minutes=minutes_after_t0),
    )


@pytest.mark.parametrize(
    ("elapsed", "within"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999), True),
        (DEDUP_WINDOW, False),
        (DEDUP_WINDOW + timedelta(microseconds=1), False),
    ],
    ids=["just-dispatched", "a-microsecond-before-24h", "exactly-24h", "just-after-24h"],
)
async def test_a_ticket_is_within_the_window_until_exactly_24_hours_have_passed(
    store: Store, elapsed: timedelta, within: bool
) -> None:
    await dispatched(store, "1", 0)

    assert await store.is_within_dedup_window("1", T0 + elapsed) is within


async def test_an_unknown_ticket_is_not_within_the_window(store: Store) -> None:
    assert await store.is_within_dedup_window("never-dispatched", T0) is False


async def test_a_shorter_window_can_be_asked_for(store: Store) -> None:
    await dispatched(store, "1", 0)

    assert await store.is_within_dedup_window("1", T0 + timedelta(hours=2), window=timedelta(hours=1)) is False


async def test_recording_again_refreshes_the_window_and_the_ticket(store: Store) -> None:
    await dispatched(store, "1", 0)
    await store.record_dedup(
        "1",
        identifier="ENG-1",
        title="Renamed",
        team_key="ENG",
        provider="linear",
        now=T0 + timedelta(hours=20),
    )

    assert await store.is_within_dedup_window("1", T0 + timedelta(hours=30)) is True
    [entry] = await store.list_dedup_window(T0 + timedelta(hours=30))
    assert entry.title == "Renamed"
    assert entry.dispatched_at == T0 + timedelta(hours=20)


async def test_the_window_lists_only_recent_tickets_newest_first(store: Store) -> None:
    await dispatched(store, "old", -24 * 60)
    await dispatched(store, "first", 10)
    await dispatched(store, "second", 20, provider="jira")

    entries = await store.list_dedup_window(T0 + timedelta(hours=1))

    assert [entry.issue_id for entry in entries] == ["second", "first"]
    assert entries[0].provider == "jira"
    assert entries[0].identifier == "ENG-second"
    assert entries[0].dispatched_at == T0 + timedelta(minutes=20)


async def test_removing_a_ticket_lets_it_be_dispatched_again(store: Store) -> None:
    await dispatched(store, "1", 0)

    assert await store.remove_dedup("1") is True
    assert await store.is_within_dedup_window("1", T0) is False
    assert await store.remove_dedup("1") is False


async def test_purging_drops_exactly_the_entries_whose_window_has_closed(store: Store) -> None:
    await dispatched(store, "closed", 0)
    await dispatched(store, "open", 1)

    purged = await store.purge_dedup(T0 + DEDUP_WINDOW)

    assert purged == 1
    assert [entry.issue_id for entry in await store.list_dedup_window(T0 + DEDUP_WINDOW)] == ["open"]
