"""Which value wins when the environment, the store and the defaults disagree.

The specification's rule: an environment variable always wins; a value stored through the admin
API applies when no variable is set (runner mode at once, Fly settings after a restart); the
default applies when neither is set. Pure functions, so every branch is tested without I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from controller.config.settings import RunnerMode, Settings

SERVICE_ACCOUNT_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
OUTSIDE_CLUSTER_NAMESPACE = "default"


class ValueSource(StrEnum):
    ENVIRONMENT = "environment"
    DATABASE = "database"
    DEFAULT = "default"


@dataclass(frozen=True)
class ResolvedRunnerMode:
    """The runner mode in force now, where it came from, and whether the environment locks it."""

    mode: RunnerMode
    source: ValueSource
    env_locked: bool


def resolve_runner_mode(
    environment_mode: RunnerMode | None, stored_mode: str | None, available: frozenset[RunnerMode]
) -> ResolvedRunnerMode:
    """RUNNER_MODE when set, else the mode stored through the API if this process can run it, else `default`.

    `environment_mode` is None when RUNNER_MODE is absent from the environment (not merely at its
    default), so that an explicit `RUNNER_MODE=default` still locks the mode. A stored mode stops
    applying when what it needs is gone (say LOCAL_RUNNER_IMAGE after a restart).
    """
    if environment_mode is not None:
        return ResolvedRunnerMode(mode=environment_mode, source=ValueSource.ENVIRONMENT, env_locked=True)
    if stored_mode is not None and stored_mode in available:
        return ResolvedRunnerMode(mode=RunnerMode(stored_mode), source=ValueSource.DATABASE, env_locked=False)
    return ResolvedRunnerMode(mode=RunnerMode.DEFAULT, source=ValueSource.DEFAULT, env_locked=False)


def available_runner_modes(settings: Settings, fly_app: str | None) -> frozenset[RunnerMode]:
    """The modes this configuration can run: Fly ones need a token and an app, `local` an image.

    `fly_app` is the app in use: FLY_SESSIONS_APP, else the one stored through the admin API.
    """
    modes = {RunnerMode.DEFAULT, RunnerMode.GHA}
    if settings.fly_sessions_token is not None and fly_app is not None:
        modes |= {RunnerMode.FLY, RunnerMode.SHADOW}
    if settings.local_runner_image is not None:
        modes.add(RunnerMode.LOCAL)
    return frozenset(modes)


@dataclass(frozen=True)
class ResolvedSetting:
    """A restart-bound setting: what is stored, what the running process uses, and why."""

    stored: str | None
    environment: str | None
    runtime: str | None
    source: ValueSource
    env_override: bool
    restart_required: bool


def resolve_restart_bound_setting(
    *, environment: str | None, stored_at_start: str | None, stored_now: str | None, default: str | None
) -> ResolvedSetting:
    """The environment wins; otherwise the process keeps what was stored when it started.

    A stored value that differs from the one in use flags a restart, unless the environment
    overrides both anyway.
    """
    runtime: str | None
    if environment is not None:
        runtime, source = environment, ValueSource.ENVIRONMENT
    elif stored_at_start is not None:
        runtime, source = stored_at_start, ValueSource.DATABASE
    else:
        runtime, source = default, ValueSource.DEFAULT
    next_start = environment if environment is not None else (stored_now if stored_now is not None else default)
    return ResolvedSetting(
        stored=stored_now,
        environment=environment,
        runtime=runtime,
        source=source,
        env_override=environment is not None,
        restart_required=next_start != runtime,
    )


def resolve_namespace(settings: Settings, service_account_namespace: str | None) -> str:
    """AI_IMPLEMENT_NAMESPACE, else the pod's own namespace, else `default` outside a cluster."""
    if settings.ai_implement_namespace is not None:
        return settings.ai_implement_namespace
    if service_account_namespace:
        return service_account_namespace.strip()
    return OUTSIDE_CLUSTER_NAMESPACE


def read_service_account_namespace(path: Path = SERVICE_ACCOUNT_NAMESPACE_FILE) -> str | None:
    """The namespace Kubernetes mounts into every pod, or None outside a cluster."""
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
