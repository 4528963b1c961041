"""Races the store must win on both databases: two replicas, or the operator and the api, at once.

Each store here has an engine of its own, as a second process would; connections are opened before
the race so that the contenders hit the database within the same moment.
"""

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from controller.store import IssueSnapshot, Store
from tests.store.moments import T0

ROUNDS = 20
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def two_stores(migrated_database_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database, each with two connections already open."""
    async with (
        Store.from_url(migrated_database_url) as first,
        Store.from_url(migrated_database_url) as second,
    ):
        await asyncio.gather(*(store.get_setting("warm-up") for store in (first, second, first, second)))
        yield first, second


async def test_exactly_one_of_four_racing_consumers_spends_a_result_token(
    two_stores: tuple[Store, Store],
) -> None:
    first, second = two_stores
    for round_number in range(ROUNDS):
        jti = f"jti-{round_number}"
        await first.record_runner_token(
            jti, dispatch_uid="uid", purpose="result", expires_at=T0 + timedelta(hours=1), now=T0
        )

        outcomes = await asyncio.gather(*(store.consume_runner_token(jti, T0) for store in (first, second) * 2))

        assert sorted(outcomes) == [False, False, False, True], f"round {round_number}: {outcomes}"


async def test_exactly_one_of_four_racing_receivers_sees_a_delivery_first(
    two_stores: tuple[Store, Store],
) -> None:
    first, second = two_stores
    for round_number in range(ROUNDS):
        delivery_id = f"delivery-{round_number}"

        outcomes = await asyncio.gather(
            *(store.first_seen_delivery("github", delivery_id, T0) for store in (first, second) * 2)
        )

        assert sorted(outcomes) == [False, False, False, True], f"round {round_number}: {outcomes}"


async def test_racing_dedup_records_of_one_ticket_all_succeed(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores

    await asyncio.gather(
        *(
            store.record_dedup(
                "issue-1",
                identifier="ENG-1",
                title="Raced",
                team_key="ENG",
                provider="linear",
                now=T0 + timedelta(seconds=index),
            )
            for index, store in enumerate((first, second) * ROUNDS)
        )
    )

    [entry] = await first.list_dedup_window(T0 + timedelta(minutes=1))
    assert entry.issue_id == "issue-1"


async def test_concurrent_writes_from_two_stores_all_land(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores

    await asyncio.gather(
        *(
            store.append_audit(at=T0, actor=name, action="test.write", target=str(index))
            for index in range(50)
            for name, store in (("first", first), ("second", second))
        )
    )

    entries = await second.recent_audit(1000)
    assert len(entries) == 100
    assert {entry.actor for entry in entries} == {"first", "second"}


async def test_a_reader_sees_one_whole_snapshot_while_another_store_replaces_it(
    two_stores: tuple[Store, Store],
) -> None:
    writer, reader = two_stores
    template = IssueSnapshot(
        issue_id="",
        identifier="",
        title="Ticket",
        url="https://tickets.example",
        team_key="ENG",
        provider="linear",
        state="",
        readiness="ready",
        blocked_reason=None,
        updated_at=T0,
    )

    def poll(generation: int) -> list[IssueSnapshot]:
        return [
            replace(template, issue_id=f"{generation}-{n}", identifier=f"ENG-{n}", state=f"poll-{generation}")
            for n in range(50)
        ]

    await writer.replace_issue_snapshot("linear", poll(0))

    async def replace_repeatedly() -> None:
        for generation in range(1, 11):
            await writer.replace_issue_snapshot("linear", poll(generation))

    async def read_until_done(done: asyncio.Event) -> set[tuple[int, frozenset[str]]]:
        seen: set[tuple[int, frozenset[str]]] = set()
        while not done.is_set():
            snapshot = await reader.list_issue_snapshots()
            seen.add((len(snapshot), frozenset(ticket.state for ticket in snapshot)))
        return seen

    done = asyncio.Event()
    reading = asyncio.create_task(read_until_done(done))
    await replace_repeatedly()
    done.set()
    seen = await reading

    assert all(count == 50 and len(states) == 1 for count, states in seen), seen


OTHER_PROCESS_WRITES = """
import asyncio, sys
from datetime import UTC, datetime
from controller.store import Store

async def main(url):
    async with Store.from_url(url) as store:
        await store.get_setting("warm-up")
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        for index in range(50):
            await store.append_audit(
                at=datetime(2025, 3, 14, tzinfo=UTC), actor="other-process", action="write", target=str(index)
            )

asyncio.run(main(sys.argv[1]))
"""


async def test_another_process_writing_at_the_same_time_does_not_fail_either_writer(
    migrated_database_url: str,
) -> None:
    other = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        OTHER_PROCESS_WRITES,
        migrated_database_url,
        cwd=REPOSITORY_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert other.stdout is not None
    assert await other.stdout.readline() == b"ready\n"
    async with Store.from_url(migrated_database_url) as store:
        await store.get_setting("warm-up")

        async def write_here() -> None:
            for index in range(50):
                await store.append_audit(at=T0, actor="this-process", action="test.write", target=str(index))

        (_, stderr), _ = await asyncio.gather(other.communicate(b"go\n"), write_here())

        assert (other.returncode, stderr.decode()) == (0, "")
        entries = await store.recent_audit(1000)
    assert sorted(entry.actor for entry in entries) == ["other-process"] * 50 + ["this-process"] * 50
