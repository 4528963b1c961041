"""Orchestrator settings changed at run time (runner mode, Fly app and region), as JSON by key.

Environment variables still win over these values; the store only remembers what the admin chose
and who chose it, so the UI can show both.
"""

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from controller import constants
from controller.config import Settings
from controller.config.overrides import ResolvedRunnerMode, available_runner_modes, resolve_runner_mode
from controller.store.base import StoreBase
from controller.store.records import SettingValue
from controller.store.tables import SettingRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import JsonValue


class StoredSettings(StoreBase):
    """Read and upsert settings by key."""

    async def get_setting(self, key: str) -> SettingValue | None:
        """The stored value of a setting, or None when it was never set."""
        async with self._transaction() as session:
            row = await session.get(SettingRow, key)
            if row is None:
                return None
            return SettingValue(value=row.value, updated_at=row.updated_at, updated_by=row.updated_by)

    async def set_setting(self, key: str, value: JsonValue, updated_by: str | None, now: datetime) -> SettingValue:
        """Store a setting, replacing any earlier value, and say who changed it."""
        fields = {"value": value, "updated_at": as_utc(now), "updated_by": updated_by}
        statement = self._insert(SettingRow).values(key=key, **fields)
        async with self._transaction() as session:
            await session.execute(statement.on_conflict_do_update(index_elements=["key"], set_=fields))
        return SettingValue(value=value, updated_at=as_utc(now), updated_by=updated_by)

    async def setting_or_initialise(self, key: str, initial: JsonValue, now: datetime) -> SettingValue:
        """The stored value, storing `initial` first when there is none; racing callers all get one winner."""
        statement = self._insert(SettingRow).values(key=key, value=initial, updated_at=as_utc(now), updated_by=None)
        async with self._transaction() as session:
            await session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
        stored = await self.get_setting(key)
        assert stored is not None, "a row that was just inserted or already there cannot be missing"
        return stored


async def runner_mode_in_force(store: StoredSettings, settings: Settings) -> ResolvedRunnerMode:
    """RUNNER_MODE, else the mode stored through the admin API if this process can run it, else default."""
    stored_mode = await _stored_text(store, constants.SETTING_RUNNER_MODE)
    environment_mode = settings.runner_mode if settings.explicitly_set("RUNNER_MODE") else None
    fly_app = settings.fly_sessions_app or await _stored_text(store, constants.SETTING_FLY_SESSIONS_APP)
    return resolve_runner_mode(environment_mode, stored_mode, available_runner_modes(settings, fly_app))


class RunnerModeReader:
    """`runner_mode_in_force`, read from the store at most once per `max_age` seconds, however many ask at once.

    The operator reconciles every mapping at the start of a term and at every poll; a thousand of
    them each reading the store at once exhausted the connection pool and held a thousand waiting
    tasks. Callers queue on one lock instead, and all but the first get the answer it read.
    """

    def __init__(
        self,
        store: StoredSettings,
        settings: Settings,
        *,
        max_age: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._settings = settings
        self._max_age = max_age
        self._clock = clock
        self._lock = asyncio.Lock()
        self._read: tuple[float, ResolvedRunnerMode] | None = None

    async def __call__(self) -> ResolvedRunnerMode:
        async with self._lock:
            if self._read is None or self._clock() - self._read[0] >= self._max_age:
                self._read = (self._clock(), await runner_mode_in_force(self._store, self._settings))
            return self._read[1]


async def _stored_text(store: StoredSettings, key: str) -> str | None:
    stored = await store.get_setting(key)
    return stored.value if stored is not None and isinstance(stored.value, str) else None
