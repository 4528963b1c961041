"""The census of live sessions: replaced per backend, first sightings kept, failures recorded beside the rows."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from controller.store import CensusState, LiveSession, ObservedSession, SessionBackend, Store, session_key
from tests.store.moments import T0


def observed(resource_id: str, backend: SessionBackend = "fly-machines", **overrides: Any) -> ObservedSession:
    fields: dict[str, Any] = {
        "backend": backend,
        "resource_id": resource_id,
        "name": f"ai-implement-{resource_id}",
        "state": "started",
        "backend_state": "started",
    }
    return ObservedSession(**(fields | overrides))


async def resource_ids(store: Store, backend: SessionBackend | None = None) -> list[str]:
    return [session.resource_id for session in await store.live_sessions(backend)]


async def test_a_session_comes_back_whole_with_its_sightings(store: Store) -> None:
    amsterdam = timezone(timedelta(hours=1))
    await store.replace_live_sessions(
        "fly-machines",
        [
            observed(
                "m-1",
                name="",
                state="starting",
                backend_state="created",
                created_at=datetime(2025, 3, 14, 12, 30, tzinfo=amsterdam),
                region="ams",
                app="ai-implement-sessions",
                url="https://ai-implement-sessions.fly.dev/m-1",
                dispatch_name="eng-4-1",
                issue_identifier="ENG-4",
                issue_url="https://linear.app/acme/issue/ENG-4",
                team_key="ENG",
                repo="acme/web",
                tenant="acme",
                namespace="ai-implement",
            )
        ],
        observed_at=T0,
    )

    assert await store.live_sessions() == [
        LiveSession(
            backend="fly-machines",
            resource_id="m-1",
            name="",
            state="starting",
            backend_state="created",
            created_at=datetime(2025, 3, 14, 11, 30, tzinfo=UTC),
            first_seen_at=T0,
            observed_at=T0,
            region="ams",
            app="ai-implement-sessions",
            url="https://ai-implement-sessions.fly.dev/m-1",
            dispatch_name="eng-4-1",
            issue_identifier="ENG-4",
            issue_url="https://linear.app/acme/issue/ENG-4",
            team_key="ENG",
            repo="acme/web",
            tenant="acme",
            namespace="ai-implement",
        )
    ]


async def test_replacing_keeps_first_sightings_updates_the_rest_and_drops_the_vanished(store: Store) -> None:
    await store.replace_live_sessions("fly-machines", [observed("kept"), observed("vanished")], observed_at=T0)
    later = T0 + timedelta(minutes=1)

    await store.replace_live_sessions(
        "fly-machines", [observed("kept", state="stopping", backend_state="stopping"), observed("new")], later
    )

    sessions = {session.resource_id: session for session in await store.live_sessions()}
    assert sorted(sessions) == ["kept", "new"]
    assert (sessions["kept"].first_seen_at, sessions["kept"].observed_at) == (T0, later)
    assert (sessions["kept"].state, sessions["kept"].backend_state) == ("stopping", "stopping")
    assert (sessions["new"].first_seen_at, sessions["new"].observed_at) == (later, later)


async def test_replacing_one_backend_leaves_the_others_alone(store: Store) -> None:
    await store.replace_live_sessions("fly-machines", [observed("m-1")], observed_at=T0)
    await store.replace_live_sessions("local", [observed("c-1", backend="local")], observed_at=T0)

    await store.replace_live_sessions("fly-machines", [], observed_at=T0 + timedelta(minutes=1))

    assert await resource_ids(store) == ["c-1"]


async def test_a_successful_census_is_recorded_and_clears_the_last_error(store: Store) -> None:
    await store.record_census_failure("github-actions", T0, "github: 502 listing runs")
    later = T0 + timedelta(minutes=1)

    await store.replace_live_sessions("github-actions", [], observed_at=later)

    assert await store.census_states() == [
        CensusState(backend="github-actions", last_attempt_at=later, last_success_at=later, error=None)
    ]


async def test_a_failed_census_keeps_the_sessions_and_says_why(store: Store) -> None:
    await store.replace_live_sessions("fly-machines", [observed("m-1")], observed_at=T0)
    failed_at = T0 + timedelta(minutes=1)

    await store.record_census_failure("fly-machines", failed_at, "fly: 503 from the Machines API")

    assert await resource_ids(store) == ["m-1"]
    assert await store.census_states() == [
        CensusState(
            backend="fly-machines",
            last_attempt_at=failed_at,
            last_success_at=T0,
            error="fly: 503 from the Machines API",
        )
    ]


async def test_a_backend_that_never_answered_has_no_last_success(store: Store) -> None:
    await store.record_census_failure("local", T0, "docker: socket not found")
    await store.record_census_failure("local", T0 + timedelta(minutes=1), "docker: still no socket")

    assert await store.census_states() == [
        CensusState(
            backend="local",
            last_attempt_at=T0 + timedelta(minutes=1),
            last_success_at=None,
            error="docker: still no socket",
        )
    ]


async def test_census_states_are_ordered_by_backend(store: Store) -> None:
    for backend in ("local", "github-actions", "fly-machines"):
        await store.replace_live_sessions(backend, [], observed_at=T0)

    assert [state.backend for state in await store.census_states()] == ["fly-machines", "github-actions", "local"]


async def test_sessions_come_oldest_first_and_those_of_unknown_age_last(store: Store) -> None:
    first = [
        observed("b-unknown-age"),
        observed("young", created_at=T0 - timedelta(minutes=1)),
        observed("a-unknown-age"),
        observed("old", created_at=T0 - timedelta(hours=1)),
    ]
    await store.replace_live_sessions("fly-machines", first, observed_at=T0)
    await store.replace_live_sessions("fly-machines", [observed("late"), *first], observed_at=T0 + timedelta(minutes=1))
    await store.replace_live_sessions(
        "local", [observed("middle", backend="local", created_at=T0 - timedelta(minutes=30))], observed_at=T0
    )

    assert await resource_ids(store) == ["old", "middle", "young", "a-unknown-age", "b-unknown-age", "late"]


async def test_live_sessions_are_counted_per_backend_in_the_states_asked_for(store: Store) -> None:
    await store.replace_live_sessions(
        "fly-machines",
        [observed("m-1"), observed("m-2", state="starting"), observed("m-3", state="stopping")],
        observed_at=T0,
    )
    await store.replace_live_sessions("local", [observed("c-1", backend="local")], observed_at=T0)

    assert await store.live_session_counts(["started", "starting"]) == {"fly-machines": 2, "local": 1}
    assert await store.live_session_counts(["stopping"]) == {"fly-machines": 1}
    assert await store.live_session_counts(["destroyed"]) == {}


async def test_the_newest_sessions_are_those_first_seen_last(store: Store) -> None:
    await store.replace_live_sessions(
        "fly-machines", [observed("first"), observed("gone", state="stopping")], observed_at=T0
    )
    await store.replace_live_sessions(
        "local", [observed("young", backend="local"), observed("old", backend="local")], observed_at=T0
    )
    await store.replace_live_sessions(
        "fly-machines",
        [observed("first"), observed("gone", state="stopping"), observed("late")],
        observed_at=T0 + timedelta(minutes=1),
    )

    newest = await store.newest_live_sessions(["started"], limit=3)

    assert [session.resource_id for session in newest] == ["late", "first", "old"]


async def test_pages_of_sessions_follow_the_listing_order_and_cover_it_once(store: Store) -> None:
    first = [observed(f"aged-{n}", created_at=T0 - timedelta(minutes=n)) for n in range(5)]
    first += [observed("unknown-b"), observed("unknown-a"), observed("stopping", state="stopping")]
    await store.replace_live_sessions("fly-machines", first, observed_at=T0)
    await store.replace_live_sessions("local", [observed("c-1", backend="local", created_at=T0)], observed_at=T0)
    expected = [s.resource_id for s in await store.live_sessions() if s.state == "started"]

    seen, after, pages = [], None, 0
    while True:
        page = await store.live_session_page(states=["started"], after=after, limit=3)
        pages += 1
        assert page.total == 8
        assert page.more_before == (pages > 1)
        seen += [s.resource_id for s in page.sessions]
        if not page.more_after:
            break
        after = session_key(page.sessions[-1])

    assert seen == expected
    assert pages == 3
    last = await store.live_session_page(states=["started"], before=session_key(page.sessions[0]), limit=3)
    assert [s.resource_id for s in last.sessions] == expected[3:6]
    assert (last.more_before, last.more_after) == (True, True)


async def test_a_page_of_one_backend_counts_only_that_backend(store: Store) -> None:
    await store.replace_live_sessions("fly-machines", [observed("m-1"), observed("m-2")], observed_at=T0)
    await store.replace_live_sessions("local", [observed("c-1", backend="local")], observed_at=T0)

    page = await store.live_session_page(states=["started"], backend="local", limit=10)

    assert [s.resource_id for s in page.sessions] == ["c-1"]
    assert (page.total, page.more_before, page.more_after) == (1, False, False)


async def test_sessions_can_be_listed_for_one_backend(store: Store) -> None:
    await store.replace_live_sessions("fly-machines", [observed("m-1")], observed_at=T0)
    await store.replace_live_sessions("github-actions", [observed("run-1", backend="github-actions")], observed_at=T0)

    assert await resource_ids(store, "github-actions") == ["run-1"]
    assert await resource_ids(store, "local") == []


async def test_one_session_is_found_by_its_resource_id(store: Store) -> None:
    await store.replace_live_sessions("fly-machines", [observed("m-1")], observed_at=T0)
    await store.replace_live_sessions("local", [observed("c-1", backend="local")], observed_at=T0)

    found = await store.live_session("c-1")

    assert found is not None
    assert (found.backend, found.resource_id) == ("local", "c-1")
    assert await store.live_session("c-1", backend="fly-machines") is None
    assert await store.live_session("unknown") is None


async def test_sessions_of_another_backend_are_refused_and_nothing_changes(store: Store) -> None:
    await store.replace_live_sessions("fly-machines", [observed("m-1")], observed_at=T0)

    with pytest.raises(ValueError, match=r"fly-machines census with sessions of another backend: run-7"):
        await store.replace_live_sessions(
            "fly-machines", [observed("m-2"), observed("run-7", backend="github-actions")], T0 + timedelta(minutes=1)
        )

    assert await resource_ids(store) == ["m-1"]
    [state] = await store.census_states()
    assert state.last_attempt_at == T0


async def test_a_resource_listed_twice_keeps_its_last_listing(store: Store) -> None:
    await store.replace_live_sessions(
        "fly-machines",
        [observed("m-1", state="starting"), observed("m-2"), observed("m-1", state="started")],
        observed_at=T0,
    )

    assert [(session.resource_id, session.state) for session in await store.live_sessions()] == [
        ("m-1", "started"),
        ("m-2", "started"),
    ]


async def test_forgetting_a_destroyed_session_drops_only_it(store: Store) -> None:
    await store.replace_live_sessions("fly-machines", [observed("m-1"), observed("m-2")], observed_at=T0)

    assert await store.forget_live_session("fly-machines", "m-1")
    assert not await store.forget_live_session("fly-machines", "m-1")
    assert not await store.forget_live_session("local", "m-2")
    assert await resource_ids(store) == ["m-2"]


async def test_a_naive_observation_time_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        await store.replace_live_sessions("local", [], observed_at=datetime(2025, 3, 14, 12, 0))
