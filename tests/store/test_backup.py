"""`ai-implement db backup`: a consistent copy of the SQLite store, taken while a writer holds it open."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from controller.store.backup import BackupError, back_up_sqlite, sqlite_path_of
from controller.store.urls import database_url

ROOT = Path(__file__).parents[2]


def _writer(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode, as the processes hold one, with a row still only in the -wal file."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT)")
    connection.execute("INSERT INTO settings VALUES ('runner_mode', 'fly')")
    connection.commit()
    return connection


def test_the_copy_holds_what_is_only_in_the_write_ahead_log(tmp_path: Path) -> None:
    store = tmp_path / "dedup.sqlite"
    writer = _writer(store)
    try:
        assert Path(f"{store}-wal").stat().st_size > 0, "the row must still be in the WAL for this test to mean much"
        size = back_up_sqlite(store, tmp_path / "backup.sqlite")
    finally:
        writer.close()
    assert size > 0
    copy = sqlite3.connect(tmp_path / "backup.sqlite")
    assert copy.execute("SELECT value FROM settings WHERE key = 'runner_mode'").fetchall() == [("fly",)]
    copy.close()


def test_a_backup_never_overwrites_and_names_what_is_wrong(tmp_path: Path) -> None:
    store = tmp_path / "dedup.sqlite"
    _writer(store).close()
    (tmp_path / "taken.sqlite").write_text("an older backup")
    with pytest.raises(BackupError, match="exists already"):
        back_up_sqlite(store, tmp_path / "taken.sqlite")
    assert (tmp_path / "taken.sqlite").read_text() == "an older backup"
    with pytest.raises(BackupError, match="no store at"):
        back_up_sqlite(tmp_path / "missing.sqlite", tmp_path / "new.sqlite")
    with pytest.raises(BackupError, match="does not exist"):
        back_up_sqlite(store, tmp_path / "no-such-directory" / "new.sqlite")


def test_a_postgresql_store_is_sent_to_pg_dump() -> None:
    with pytest.raises(BackupError, match="pg_dump") as raised:
        sqlite_path_of(database_url("postgresql://ai:hunter2@db.internal/ai", "/unused"))
    assert "hunter2" not in str(raised.value)
    assert sqlite_path_of(database_url(None, "/data/dedup.sqlite")) == Path("/data/dedup.sqlite")


def test_the_command_backs_up_the_configured_store(tmp_path: Path) -> None:
    store = tmp_path / "dedup.sqlite"
    _writer(store).close()
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "DEDUP_DB_PATH": str(store)}
    command = [sys.executable, "-m", "controller.cli", "db", "backup", str(tmp_path / "copy.sqlite")]
    command += ["--env-file", str(tmp_path / "none.env")]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"backed up the store to {tmp_path / 'copy.sqlite'} (")
    again = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    assert again.returncode == 2
    assert again.stderr.startswith("error: ")
    assert "exists already" in again.stderr
