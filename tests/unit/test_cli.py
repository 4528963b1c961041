"""The `ai-implement` command as a user runs it: a real process with a real environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from controller.resources import ALL_KINDS

SECRET = "lin_api_do-not-print-me-0123456789"


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_config_check_redacts_secrets_and_passes_with_a_working_set(tmp_path: Path, rsa_key_pem: str) -> None:
    env = {
        "GITHUB_APP_ID": "12345",
        "GITHUB_APP_PRIVATE_KEY": rsa_key_pem.replace("\n", "\\n"),
        "LINEAR_API_KEY": SECRET,
        "ADMIN_ACCESS_CODE": "hunter2-hunter2",
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    result = _run("config", "check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration is valid" in result.stdout
    assert "LINEAR_API_KEY" in result.stdout
    for secret in (SECRET, "hunter2-hunter2", "PRIVATE KEY"):
        assert secret not in result.stdout + result.stderr


def test_config_check_names_each_bad_variable_and_fails(tmp_path: Path) -> None:
    env = {
        "RUNNER_MODE": "turbo",
        "NOTIFY_TYPE": "pager",
        "PORT": "http",
        "RUNNER_CALLBACK_BASE_URL": "https://ai.example.com",
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    result = _run("config", "check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    for variable in ("RUNNER_MODE", "NOTIFY_TYPE", "PORT", "RUNNER_TOKEN_SECRET"):
        assert any(line.startswith("error:") and variable in line for line in result.stdout.splitlines()), variable


def test_crds_prints_every_definition() -> None:
    result = _run("crds", env={"PYTHONPATH": str(Path(__file__).parents[2])})
    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert {d["spec"]["names"]["kind"] for d in documents} == {k.kind for k in ALL_KINDS} | {"KopfPeering"}


def test_db_upgrade_creates_the_sqlite_store_where_dedup_db_path_says(tmp_path: Path) -> None:
    target = tmp_path / "data" / "dedup.sqlite"
    env = {"DEDUP_DB_PATH": str(target), "PYTHONPATH": str(Path(__file__).parents[2])}
    first = _run("db", "upgrade", env=env, cwd=tmp_path)
    second = _run("db", "upgrade", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert target.exists()
    assert "newest schema" in second.stdout


def test_db_upgrade_refuses_a_bad_database_url_without_echoing_it(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "mysql://root:s3cret@db/x", "PYTHONPATH": str(Path(__file__).parents[2])}
    result = _run("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
