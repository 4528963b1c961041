"""Engines: SQLite tuned for two processes, and timestamps that come back aware and in UTC."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from controller.store import Store, create_store_engine, database_url
from tests.store.moments import T0


async def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_store_engine(database_url(None, str(tmp_path / "store.sqlite")))
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
    finally:
        await engine.dispose()

    assert pragmas["journal_mode"] == "wal"
    assert pragmas["busy_timeout"] >= 5000
    assert pragmas["foreign_keys"] == 1
    assert pragmas["synchronous"] == 1  # NORMAL


async def test_the_sqlite_directory_is_created_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "store.sqlite"
    engine = create_store_engine(database_url(None, str(path)))
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()

    assert path.is_file()


async def test_timestamps_in_any_zone_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    in_new_york = datetime(2025, 3, 14, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-4)))

    await store.set_setting("runnerMode", "fly", "admin", in_new_york)
    stored = await store.get_setting("runnerMode")

    assert stored is not None
    assert stored.updated_at == in_new_york
    assert stored.updated_at.tzinfo == UTC
    assert stored.updated_at == datetime(2025, 3, 14, 12, 0, 0, 123456, tzinfo=UTC)


async def test_a_naive_timestamp_is_refused_rather_than_guessed(store: Store) -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        await store.record_dedup(
            "issue-1",
            identifier="ENG-1",
            title="Naive",
            team_key="ENG",
            provider="linear",
            now=T0.replace(tzinfo=None),
        )
