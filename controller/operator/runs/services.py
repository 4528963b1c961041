"""The clients a Dispatch reconciler works through, opened from the settings and closed with the process.

A backend whose credentials are missing is simply absent: a run that needs it fails with a message
naming the variable to set (`registry.BackendNotConfigured`), and every other run is unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

from controller import constants
from controller.config import Settings
from controller.config.overrides import resolve_restart_bound_setting
from controller.docker import DockerClient
from controller.fly import FlyClient
from controller.github import GitHubClient
from controller.kube import KubeClient
from controller.notify import Notifier, notifier_from_settings
from controller.operator.runs.launch import IMAGE_OVERRIDE_PATH
from controller.operator.runs.reconciler import TeamSecretsReader
from controller.operator.tickets.mappings import MappingDirectory
from controller.runners.fly_machines import FlyMachinesBackend
from controller.runners.github_actions import GitHubActionsBackend
from controller.runners.local_docker import LocalDockerBackend
from controller.runners.registry import Backends
from controller.secrets import KubernetesSecretBackend, runner_environment
from controller.store import Store


@dataclass(frozen=True)
class RunServices:
    backends: Backends
    github: GitHubClient | None
    notifier: Notifier

    async def read_image_override(self, owner: str, repo: str, branch: str) -> str | None:
        """The repository's `.ai-implement/image.yml` on its default branch, if it has one."""
        if self.github is None:
            return None
        return await self.github.read_text(owner, repo, IMAGE_OVERRIDE_PATH, ref=branch)


async def open_run_services(
    settings: Settings, stack: AsyncExitStack, *, fly_app: str | None, fly_region: str
) -> RunServices:
    github = None
    github_actions = None
    if settings.github_app_id is not None and settings.github_app_private_key is not None:
        github = await stack.enter_async_context(
            GitHubClient(
                settings.github_app_id,
                settings.github_app_private_key.get_secret_value(),
                base_url=settings.github_api_url,
            )
        )
        github_actions = GitHubActionsBackend(github)
    fly_machines = None
    if settings.fly_sessions_token is not None and fly_app:
        fly = await stack.enter_async_context(
            FlyClient(settings.fly_api_base_url, settings.fly_sessions_token.get_secret_value())
        )
        fly_machines = FlyMachinesBackend(fly, fly_app, fly_region)
    docker = await stack.enter_async_context(DockerClient(settings.docker_host))
    notifier = notifier_from_settings(settings)
    stack.push_async_callback(notifier.aclose)
    return RunServices(
        backends=Backends(github_actions=github_actions, fly_machines=fly_machines, local=LocalDockerBackend(docker)),
        github=github,
        notifier=notifier,
    )


def team_secrets_reader(kube: KubeClient, namespace: str, mappings: MappingDirectory) -> TeamSecretsReader:
    """A team's runner secrets (its own and the global ones, never another team's) from the Kubernetes Secret,
    for local runs; Fly runs receive theirs through the credentials exchange."""
    backend = KubernetesSecretBackend(kube, namespace)

    async def read(team_key: str) -> Mapping[str, str]:
        team_keys = mappings.index().team_keys()
        return runner_environment(await backend.values(), team_key, team_keys)

    return read


async def fly_sessions_in_force(settings: Settings, store: Store) -> tuple[str | None, str]:
    """FLY_SESSIONS_APP / _REGION when set, else what /api/settings stored before this process started."""
    stored_app = await store.get_setting(constants.SETTING_FLY_SESSIONS_APP)
    stored_region = await store.get_setting(constants.SETTING_FLY_SESSIONS_REGION)
    app = resolve_restart_bound_setting(
        environment=settings.fly_sessions_app,
        stored_at_start=str(stored_app.value) if stored_app is not None else None,
        stored_now=None,
        default=None,
    ).runtime
    region = resolve_restart_bound_setting(
        environment=settings.fly_sessions_region if settings.explicitly_set("FLY_SESSIONS_REGION") else None,
        stored_at_start=str(stored_region.value) if stored_region is not None else None,
        stored_now=None,
        default=settings.fly_sessions_region,
    ).runtime
    return app, region or settings.fly_sessions_region
