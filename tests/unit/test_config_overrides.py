"""Precedence of environment, store and defaults: every branch, no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import RunnerMode, load_settings
from controller.config.overrides import (
    ResolvedSetting,
    ValueSource,
    available_runner_modes,
    read_service_account_namespace,
    resolve_namespace,
    resolve_restart_bound_setting,
    resolve_runner_mode,
)


@pytest.mark.parametrize(
    ("environment", "stored", "expected_mode", "expected_source", "locked"),
    [
        (None, None, RunnerMode.DEFAULT, ValueSource.DEFAULT, False),
        (None, "fly", RunnerMode.FLY, ValueSource.DATABASE, False),
        (RunnerMode.GHA, "fly", RunnerMode.GHA, ValueSource.ENVIRONMENT, True),
        (RunnerMode.DEFAULT, "fly", RunnerMode.DEFAULT, ValueSource.ENVIRONMENT, True),
        (None, "warp-drive", RunnerMode.DEFAULT, ValueSource.DEFAULT, False),
    ],
)
def test_runner_mode_precedence(
    environment: RunnerMode | None,
    stored: str | None,
    expected_mode: RunnerMode,
    expected_source: ValueSource,
    locked: bool,
) -> None:
    resolved = resolve_runner_mode(environment, stored, frozenset(RunnerMode))
    assert (resolved.mode, resolved.source, resolved.env_locked) == (expected_mode, expected_source, locked)


def test_a_stored_mode_this_process_cannot_run_falls_back_to_default() -> None:
    available = frozenset({RunnerMode.DEFAULT, RunnerMode.GHA})
    assert resolve_runner_mode(None, "local", available).mode is RunnerMode.DEFAULT
    assert resolve_runner_mode(None, "gha", available).mode is RunnerMode.GHA


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {"default", "gha"}),
        ({"FLY_SESSIONS_TOKEN": "t"}, {"default", "gha"}),
        ({"FLY_SESSIONS_TOKEN": "t", "FLY_SESSIONS_APP": "sessions"}, {"default", "gha", "fly", "shadow"}),
        ({"LOCAL_RUNNER_IMAGE": "img"}, {"default", "gha", "local"}),
    ],
)
def test_available_runner_modes(environ: dict[str, str], expected: set[str]) -> None:
    settings = load_settings(environ, env_file=None)
    assert available_runner_modes(settings, settings.fly_sessions_app) == {RunnerMode(m) for m in expected}


def test_a_stored_fly_app_makes_the_fly_modes_available() -> None:
    settings = load_settings({"FLY_SESSIONS_TOKEN": "t"}, env_file=None)
    assert RunnerMode.FLY in available_runner_modes(settings, "stored-app")


@pytest.mark.parametrize(
    ("environment", "at_start", "now", "expected"),
    [
        (None, None, None, ResolvedSetting(None, None, "iad", ValueSource.DEFAULT, False, False)),
        (None, None, "ams", ResolvedSetting("ams", None, "iad", ValueSource.DEFAULT, False, True)),
        (None, "ams", "ams", ResolvedSetting("ams", None, "ams", ValueSource.DATABASE, False, False)),
        (None, "ams", "fra", ResolvedSetting("fra", None, "ams", ValueSource.DATABASE, False, True)),
        (None, "ams", None, ResolvedSetting(None, None, "ams", ValueSource.DATABASE, False, True)),
        ("lhr", "ams", "fra", ResolvedSetting("fra", "lhr", "lhr", ValueSource.ENVIRONMENT, True, False)),
    ],
)
def test_restart_bound_setting(
    environment: str | None, at_start: str | None, now: str | None, expected: ResolvedSetting
) -> None:
    resolved = resolve_restart_bound_setting(
        environment=environment, stored_at_start=at_start, stored_now=now, default="iad"
    )
    assert resolved == expected


def test_namespace_precedence() -> None:
    assert resolve_namespace(load_settings({"AI_IMPLEMENT_NAMESPACE": "ops"}, env_file=None), "pods-ns") == "ops"
    assert resolve_namespace(load_settings({}, env_file=None), "pods-ns\n") == "pods-ns"
    assert resolve_namespace(load_settings({}, env_file=None), None) == "default"


def test_service_account_namespace_file(tmp_path: Path) -> None:
    path = tmp_path / "namespace"
    assert read_service_account_namespace(path) is None
    path.write_text("ai-implement\n")
    assert read_service_account_namespace(path) == "ai-implement"


def test_explicitly_set_tells_a_given_default_from_an_absent_one() -> None:
    assert load_settings({"RUNNER_MODE": "default"}, env_file=None).explicitly_set("RUNNER_MODE")
    assert not load_settings({}, env_file=None).explicitly_set("RUNNER_MODE")
