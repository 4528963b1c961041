"""The migrations build exactly the schema of the models, and upgrading is safe to repeat and race."""

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Column, Integer, MetaData, inspect
from sqlalchemy.engine import Connection

from controller.store import Store, upgrade_database
from controller.store.engine import create_store_engine
from controller.store.migrate import alembic_config, head_revision
from controller.store.tables import Base
from tests.store.moments import T0
from tests.support.databases import Databases

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


async def schema_differences(url: str, metadata: MetaData) -> Sequence[object]:
    def compare(connection: Connection) -> Sequence[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    engine = create_store_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def check_constraints(url: str) -> dict[str, set[str]]:
    def reflect(connection: Connection) -> dict[str, set[str]]:
        inspector = inspect(connection)
        return {
            table: {str(check["name"]) for check in inspector.get_check_constraints(table)}
            for table in Base.metadata.tables
        }

    engine = create_store_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(reflect)
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    engine = create_store_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()


async def test_the_migrated_schema_matches_the_models(databases: Databases) -> None:
    async with databases.fresh(migrated=False) as url:
        await upgrade_database(url)

        assert await schema_differences(url, Base.metadata) == []


async def test_the_migrated_check_constraints_match_the_models(databases: Databases) -> None:
    expected = {
        table.name: {
            str(constraint.name) for constraint in table.constraints if isinstance(constraint, CheckConstraint)
        }
        for table in Base.metadata.sorted_tables
    }
    async with databases.fresh(migrated=False) as url:
        await upgrade_database(url)

        assert await check_constraints(url) == expected


async def test_the_drift_check_notices_a_column_the_migrations_lack(databases: Databases) -> None:
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["settings"].append_column(Column("scope", Integer, nullable=True))
    async with databases.fresh(migrated=False) as url:
        await upgrade_database(url)

        differences = await schema_differences(url, drifted)

    assert [difference[0] for difference in differences] == ["add_column"]  # type: ignore[index]


async def test_upgrading_twice_keeps_the_schema_and_the_data(databases: Databases) -> None:
    async with databases.fresh(migrated=False) as url:
        await upgrade_database(url)
        async with Store.from_url(url) as store:
            await store.set_setting("flySessionsRegion", "ams", "admin", T0)

        await upgrade_database(url)

        async with Store.from_url(url) as store:
            kept = await store.get_setting("flySessionsRegion")
        assert kept is not None
        assert kept.value == "ams"
        assert await current_revision(url) == head_revision()


UPGRADE_ON_SIGNAL = """
import asyncio, sys
from controller.store import upgrade_database
print("ready", flush=True)
sys.stdin.readline()
asyncio.run(upgrade_database(sys.argv[1]))
"""


async def test_three_processes_starting_at_once_on_an_empty_database_all_succeed(
    databases: Databases,
) -> None:
    async with databases.fresh(migrated=False) as url:
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                UPGRADE_ON_SIGNAL,
                url,
                cwd=REPOSITORY_ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(3)
        ]
        for process in processes:
            assert process.stdout is not None
            assert await process.stdout.readline() == b"ready\n"
        outcomes = await asyncio.gather(*(process.communicate(b"go\n") for process in processes))

        assert [
            (process.returncode, stderr.decode()) for process, (_, stderr) in zip(processes, outcomes, strict=True)
        ] == [(0, "")] * 3
        assert await current_revision(url) == head_revision()
        assert await schema_differences(url, Base.metadata) == []


async def test_downgrading_to_nothing_and_upgrading_again_rebuilds_the_schema(databases: Databases) -> None:
    async with databases.fresh(migrated=False) as url:
        await upgrade_database(url)
        await asyncio.to_thread(command.downgrade, alembic_config(url), "base")

        assert await current_revision(url) is None

        await upgrade_database(url)
        assert await schema_differences(url, Base.metadata) == []
