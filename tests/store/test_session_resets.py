"""Session resets: one pending request per session, finished once, purged when old."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from controller.store import SessionBackend, SessionReset, Store
from tests.store.moments import T0


async def requested(
    store: Store,
    resource_id: str = "m-1",
    *,
    backend: SessionBackend = "fly-machines",
    requested_by: str = "alice@example.com",
    now: datetime = T0,
) -> SessionReset:
    return await store.request_session_reset(
        backend=backend, resource_id=resource_id, requested_by=requested_by, now=now
    )


async def test_a_request_is_pending_until_the_leader_finishes_it(store: Store) -> None:
    request = await requested(store)

    assert request == SessionReset(
        id=request.id,
        backend="fly-machines",
        resource_id="m-1",
        requested_by="alice@example.com",
        requested_at=T0,
        state="pending",
        finished_at=None,
        message=None,
        details={},
    )
    assert await store.pending_session_resets() == [request]
    assert await store.session_reset(request.id) == request


async def test_asking_again_while_pending_returns_the_pending_request(store: Store) -> None:
    first = await requested(store)

    again = await requested(store, requested_by="bob@example.com", now=T0 + timedelta(minutes=1))

    assert again == first
    assert await store.pending_session_resets() == [first]


async def test_the_same_resource_on_another_backend_is_another_request(store: Store) -> None:
    fly = await requested(store, "shared-id")
    local = await requested(store, "shared-id", backend="local")

    assert fly.id != local.id
    assert await store.pending_session_resets() == [fly, local]


async def test_pending_requests_come_oldest_first_and_limited(store: Store) -> None:
    for minute, resource_id in ((2, "b"), (1, "a"), (3, "c")):
        await requested(store, resource_id, now=T0 + timedelta(minutes=minute))

    assert [request.resource_id for request in await store.pending_session_resets(limit=2)] == ["a", "b"]


async def test_finishing_records_the_outcome_and_leaves_the_pending_list(store: Store) -> None:
    request = await requested(store)
    done_at = T0 + timedelta(seconds=30)

    finished = await store.finish_session_reset(
        request.id,
        state="reset",
        message="machine destroyed; dispatch released",
        details={"dispatch": "eng-4-1", "released": True},
        now=done_at,
    )

    assert (finished.state, finished.finished_at, finished.message) == (
        "reset",
        done_at,
        "machine destroyed; dispatch released",
    )
    assert finished.details == {"dispatch": "eng-4-1", "released": True}
    assert await store.session_reset(request.id) == finished
    assert await store.pending_session_resets() == []


async def test_a_new_request_after_the_last_one_finished_is_a_new_pending_one(store: Store) -> None:
    first = await requested(store)
    await store.finish_session_reset(first.id, state="failed", message="503", details={}, now=T0)

    second = await requested(store, now=T0 + timedelta(minutes=1))

    assert second.id != first.id
    assert second.state == "pending"


async def test_finishing_twice_keeps_the_first_answer(store: Store) -> None:
    request = await requested(store)
    first = await store.finish_session_reset(
        request.id, state="already-destroyed", message="gone before we came", details={}, now=T0
    )

    second = await store.finish_session_reset(
        request.id, state="failed", message="late", details={"retry": 2}, now=T0 + timedelta(minutes=1)
    )

    assert second == first
    assert second.state == "already-destroyed"


async def test_finishing_as_pending_is_refused(store: Store) -> None:
    request = await requested(store)

    with pytest.raises(ValueError, match=r"not 'pending' \(reset \d+\)"):
        await store.finish_session_reset(request.id, state="pending", message="", details={}, now=T0)

    assert await store.pending_session_resets() == [request]


async def test_finishing_an_unknown_request_names_its_id(store: Store) -> None:
    with pytest.raises(LookupError, match="no session reset has the id 4242"):
        await store.finish_session_reset(4242, state="reset", message="", details={}, now=T0)

    assert await store.session_reset(4242) is None


async def test_the_database_refuses_a_backend_it_does_not_know(store: Store) -> None:
    with pytest.raises(IntegrityError):
        await requested(store, backend="fly")  # type: ignore[arg-type]


async def test_purging_drops_only_requests_finished_before_the_cutoff(store: Store) -> None:
    cutoff = T0 - timedelta(days=30)
    old = await requested(store, "old", now=T0 - timedelta(days=40))
    await store.finish_session_reset(old.id, state="reset", message="", details={}, now=T0 - timedelta(days=31))
    recent = await requested(store, "recent", now=T0 - timedelta(days=40))
    await store.finish_session_reset(recent.id, state="reset", message="", details={}, now=T0)
    waiting = await requested(store, "waiting", now=T0 - timedelta(days=40))

    assert await store.purge_session_resets(older_than=cutoff) == 1
    assert await store.session_reset(old.id) is None
    assert await store.session_reset(recent.id) is not None
    assert await store.pending_session_resets() == [waiting]


@pytest.fixture
async def two_stores(migrated_database_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database, as the API's replicas would be, each with connections already open."""
    async with (
        Store.from_url(migrated_database_url) as first,
        Store.from_url(migrated_database_url) as second,
    ):
        await asyncio.gather(*(store.session_reset(0) for store in (first, second, first, second)))
        yield first, second


async def test_racing_requests_for_one_session_make_one_pending_request(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    for round_number in range(10):
        resource_id = f"m-{round_number}"

        outcomes = await asyncio.gather(*(requested(store, resource_id) for store in (first, second) * 2))

        assert len({request.id for request in outcomes}) == 1, f"round {round_number}: {outcomes}"
    assert len(await first.pending_session_resets(limit=100)) == 10


async def test_progress_is_recorded_once_and_survives_a_change_of_leader(store: Store) -> None:
    request = await requested(store)

    started = await store.mark_session_reset_started(request.id, T0 + timedelta(seconds=1))
    again = await store.mark_session_reset_started(request.id, T0 + timedelta(seconds=9))
    destroyed = await store.mark_session_reset_destroyed(
        request.id, now=T0 + timedelta(seconds=2), dispatch_name="eng-1-implementation-1", shadow=False
    )
    twice = await store.mark_session_reset_destroyed(
        request.id, now=T0 + timedelta(seconds=8), dispatch_name="other", shadow=True
    )

    assert started.started_at == again.started_at == T0 + timedelta(seconds=1)
    assert (destroyed.destroyed_at, destroyed.dispatch_name, destroyed.shadow) == (
        T0 + timedelta(seconds=2),
        "eng-1-implementation-1",
        False,
    )
    assert twice == destroyed
    [pending] = await store.pending_session_resets()
    assert pending == destroyed


async def test_progress_of_an_unknown_request_is_refused(store: Store) -> None:
    with pytest.raises(LookupError, match="404"):
        await store.mark_session_reset_started(404, T0)
