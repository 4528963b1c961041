"""What a run is started with: image, environment and credentials, composed without I/O.

The reconciler gathers the facts (the Dispatch, its mapping, the settings, the repository's image
override, the team's secrets, the minted tokens) and these functions decide what the runner gets,
so that the precedence rules of the specification are tested on tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from controller.clock import kube_timestamp
from controller.config import Settings
from controller.resources import DispatchSpec, ProjectMappingSpec, effective_max_iterations
from controller.runners.backend import RepoRef, RunLaunch
from controller.runners.credentials import claude_credentials
from controller.runners.tokens import RunnerTokenPair

IMAGE_OVERRIDE_PATH = ".ai-implement/image.yml"
PROGRESS_TOKEN_VARIABLE = "AI_IMPLEMENT_PROGRESS_TOKEN"
RESULT_TOKEN_VARIABLE = "AI_IMPLEMENT_RESULT_TOKEN"


class LaunchError(ValueError):
    """The run cannot be started as configured; the message says what to fix, and where."""


def parse_image_override(text: str, repo: str) -> str:
    """The image named by a repository's `.ai-implement/image.yml` (`image: <reference>`)."""
    where = f"{IMAGE_OVERRIDE_PATH} in {repo}"
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise LaunchError(f"{where} is not valid YAML: {error}") from error
    image = document.get("image") if isinstance(document, dict) else None
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image.strip()):
        raise LaunchError(f"{where} must hold `image: <image reference>`, e.g. `image: ghcr.io/acme/runner:1.2`")
    return image.strip()


def session_image(runner_mode: str, settings: Settings, mapping: ProjectMappingSpec, repo_override: str | None) -> str:
    """The image of a run: local runs use LOCAL_RUNNER_IMAGE; others the repo's, the mapping's, the default."""
    if runner_mode == "local":
        if not settings.local_runner_image:
            raise LaunchError("LOCAL_RUNNER_IMAGE is not set: local Docker runs need the runner image to start")
        return settings.local_runner_image
    return repo_override or mapping.runner.session_image or settings.session_image


def model_environment(mapping: ProjectMappingSpec) -> dict[str, str]:
    """Provider settings Claude Code reads (EXTERNAL_APIS.md §7): none of them is a secret."""
    environment = {
        "AI_IMPLEMENT_PROVIDER": mapping.provider.name,
        "AI_IMPLEMENT_MAX_TURNS": str(mapping.capacity.max_turns),
        "AI_IMPLEMENT_MAX_ITERATIONS": str(effective_max_iterations(mapping)),
        "AI_IMPLEMENT_MAX_JOB_MINUTES": str(mapping.capacity.max_job_minutes),
    }
    if mapping.provider.name == "bedrock" and mapping.provider.aws_region:
        environment |= {
            "CLAUDE_CODE_USE_BEDROCK": "1",
            "AWS_REGION": mapping.provider.aws_region,
            "AI_IMPLEMENT_AWS_REGION": mapping.provider.aws_region,
        }
    return environment


def callback_base_url(runner_mode: str, settings: Settings) -> str:
    """Local containers call back through LOCAL_RUNNER_ORCHESTRATOR_URL when set; others the public URL."""
    if runner_mode == "local" and settings.local_runner_orchestrator_url:
        return settings.local_runner_orchestrator_url
    if settings.runner_callback_base_url:
        return settings.runner_callback_base_url
    raise LaunchError("RUNNER_CALLBACK_BASE_URL is not set: runners would have nowhere to report progress and results")


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchFacts:
    """What the reconciler read for one run."""

    dispatch_name: str
    dispatch_uid: str
    namespace: str
    spec: DispatchSpec
    mapping: ProjectMappingSpec
    image: str
    tokens: RunnerTokenPair
    team_secrets: Mapping[str, str]
    deadline: datetime
    fly_region: str
    """The sessions region in force (FLY_SESSIONS_REGION, else the stored setting)."""
    created_at: datetime | None = None
    """The Dispatch's creationTimestamp."""
    earlier_attempt: bool = True
    """Whether an earlier attempt got as far as phase Starting, so it may have started the run."""


def compose_launch(facts: LaunchFacts, settings: Settings, runner_mode: str) -> RunLaunch:
    """The RunLaunch of one run on one backend."""
    spec, mapping = facts.spec, facts.mapping
    callback = callback_base_url(runner_mode, settings)
    pull_request = spec.pull_request
    environment = {
        "AI_IMPLEMENT_DISPATCH": facts.dispatch_name,
        "AI_IMPLEMENT_NAMESPACE": facts.namespace,
        "AI_IMPLEMENT_ISSUE": spec.issue.identifier,
        "AI_IMPLEMENT_ISSUE_ID": spec.issue.id,
        "AI_IMPLEMENT_ISSUE_PROVIDER": spec.issue.provider,
        "AI_IMPLEMENT_KIND": spec.kind,
        "AI_IMPLEMENT_ITERATION": str(spec.iteration),
        "AI_IMPLEMENT_REPO": f"{mapping.source.owner}/{mapping.source.repo}",
        "AI_IMPLEMENT_BASE_BRANCH": mapping.source.default_branch,
        "AI_IMPLEMENT_CALLBACK_URL": callback,
        "AI_IMPLEMENT_DEADLINE": kube_timestamp(facts.deadline),
        **model_environment(mapping),
    }
    if pull_request is not None:
        environment["AI_IMPLEMENT_PR_NUMBER"] = str(pull_request.number)
        if pull_request.head_branch:
            environment["AI_IMPLEMENT_PR_BRANCH"] = pull_request.head_branch
    secrets = {
        **facts.team_secrets,
        **claude_credentials(settings, mapping),
        PROGRESS_TOKEN_VARIABLE: facts.tokens.progress.token,
        RESULT_TOKEN_VARIABLE: facts.tokens.result.token,
    }
    return RunLaunch(
        created_at=facts.created_at,
        earlier_attempt=facts.earlier_attempt,
        dispatch_name=facts.dispatch_name,
        dispatch_uid=facts.dispatch_uid,
        namespace=facts.namespace,
        team_key=spec.mapping,
        tenant=settings.client_slug,
        kind=spec.kind,
        iteration=spec.iteration,
        pipeline=spec.kind,
        issue_provider=spec.issue.provider,
        issue_id=spec.issue.id,
        issue_identifier=spec.issue.identifier,
        issue_title=spec.issue.title,
        issue_url=spec.issue.url,
        repo=RepoRef(
            owner=mapping.source.owner, name=mapping.source.repo, default_branch=mapping.source.default_branch
        ),
        pull_request_number=pull_request.number if pull_request else None,
        pull_request_branch=pull_request.head_branch if pull_request else None,
        image=facts.image,
        region=mapping.runner.region or facts.fly_region,
        callback_base_url=callback,
        deadline=facts.deadline,
        environment=environment,
        secrets=secrets,
    )
