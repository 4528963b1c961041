"""Settings: JSON values by key, upserted, with who changed them and when."""

import asyncio
from datetime import timedelta

import pytest

from controller import constants
from controller.config import load_settings
from controller.config.overrides import RunnerMode
from controller.store import JsonValue, RunnerModeReader, SettingValue, Store, runner_mode_in_force
from tests.store.moments import T0


async def test_an_unset_setting_is_none(store: Store) -> None:
    assert await store.get_setting("runnerMode") is None


@pytest.mark.parametrize(
    "value",
    [
        "fly",
        3,
        2.5,
        True,
        None,
        ["ams", "fra"],
        {"app": "sessions", "regions": ["ams"], "limits": {"cpu": 2}},
    ],
    ids=["text", "integer", "float", "boolean", "null", "list", "object"],
)
async def test_any_json_value_round_trips(store: Store, value: JsonValue) -> None:
    returned = await store.set_setting("flySessions", value, "admin", T0)

    stored = await store.get_setting("flySessions")

    assert stored == returned == SettingValue(value=value, updated_at=T0, updated_by="admin")


async def test_setting_again_replaces_the_value_and_who_changed_it(store: Store) -> None:
    await store.set_setting("runnerMode", "gha", "admin", T0)

    await store.set_setting("runnerMode", "fly", None, T0 + timedelta(minutes=1))

    assert await store.get_setting("runnerMode") == SettingValue(
        value="fly", updated_at=T0 + timedelta(minutes=1), updated_by=None
    )


async def test_settings_are_independent_by_key(store: Store) -> None:
    await store.set_setting("flySessionsApp", "acme-sessions", "admin", T0)
    await store.set_setting("flySessionsRegion", "ams", "admin", T0)

    app = await store.get_setting("flySessionsApp")
    assert app is not None
    assert app.value == "acme-sessions"


async def test_setting_or_initialise_stores_the_first_value_and_keeps_it(store: Store) -> None:
    first = await store.setting_or_initialise("installation_secret", "aaa", T0)
    second = await store.setting_or_initialise("installation_secret", "bbb", T0 + timedelta(hours=1))

    assert first.value == "aaa"
    assert second.value == "aaa"
    assert second.updated_at == T0


async def test_racing_initialisations_all_get_the_same_value(migrated_database_url: str) -> None:
    stores = [Store.from_url(migrated_database_url) for _ in range(4)]
    try:
        values = await asyncio.gather(
            *(store.setting_or_initialise("installation_secret", f"v{i}", T0) for i, store in enumerate(stores))
        )
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    assert len({value.value for value in values}) == 1


async def test_store_is_reachable(store: Store) -> None:
    assert await store.is_reachable()


async def test_a_thousand_callers_at_once_cost_one_read_of_the_runner_mode(store: Store) -> None:
    """The operator reconciles every mapping at once; the pool must not run dry (bench case 6 found it)."""
    await store.set_setting(constants.SETTING_RUNNER_MODE, "local", "admin", T0)
    settings = load_settings({"LOCAL_RUNNER_IMAGE": "ai-implement-runner:dev"}, env_file=None)
    now = [0.0]
    reader = RunnerModeReader(store, settings, max_age=2.0, clock=lambda: now[0])
    reads = 0
    original = store.get_setting

    async def counted(key: str) -> SettingValue | None:
        nonlocal reads
        reads += 1
        return await original(key)

    store.get_setting = counted  # type: ignore[method-assign]
    answers = await asyncio.gather(*(reader() for _ in range(1000)))
    per_read = reads
    assert {answer.mode for answer in answers} == {(await runner_mode_in_force(store, settings)).mode}
    assert per_read <= 2, "one resolution reads at most the mode and the Fly app"

    await store.set_setting(constants.SETTING_RUNNER_MODE, RunnerMode.GHA.value, "admin", T0)
    reads = 0
    assert (await reader()).mode == answers[0].mode, "a fresh answer is reused"
    assert reads == 0
    now[0] = 2.0
    assert answers[0].mode is RunnerMode.LOCAL
    assert (await reader()).mode is RunnerMode.GHA, "and read again once it is max_age old"
