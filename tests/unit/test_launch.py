"""What a run is started with: image precedence, Claude credentials, Bedrock settings, callbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.config import Settings, load_settings
from controller.operator.runs.launch import (
    PROGRESS_TOKEN_VARIABLE,
    RESULT_TOKEN_VARIABLE,
    LaunchError,
    LaunchFacts,
    claude_credentials,
    compose_launch,
    parse_image_override,
    session_image,
)
from controller.resources import DispatchSpec, ProjectMappingSpec
from controller.runners.tokens import mint_runner_tokens

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def settings(**environ: str) -> Settings:
    return load_settings(environ, env_file=None)


def mapping(**changes: Any) -> ProjectMappingSpec:
    spec: dict[str, Any] = {
        "teamKey": "ENG",
        "ticketing": {"provider": "linear"},
        "source": {"owner": "acme", "repo": "web", "defaultBranch": "main"},
    }
    return ProjectMappingSpec.model_validate(spec | changes)


def dispatch_spec(**changes: Any) -> DispatchSpec:
    spec: dict[str, Any] = {
        "mapping": "ENG",
        "issue": {"provider": "linear", "id": "uuid-1", "identifier": "ENG-1", "title": "Fix it", "url": "u"},
        "kind": "implementation",
        "iteration": 1,
        "runnerMode": "fly-machines",
    }
    return DispatchSpec.model_validate(spec | changes)


@pytest.mark.parametrize(
    ("mode", "override", "mapping_image", "expected"),
    [
        ("fly-machines", "repo/image:1", "mapping/image:1", "repo/image:1"),
        ("fly-machines", None, "mapping/image:1", "mapping/image:1"),
        ("fly-machines", None, None, "default/image:1"),
        ("github-actions", "repo/image:1", None, "repo/image:1"),
        ("local", "repo/image:1", "mapping/image:1", "local/image:1"),
    ],
    ids=["repo-file-wins", "mapping-next", "default-last", "actions-too", "local-uses-its-own"],
)
def test_session_image_precedence(mode: str, override: str | None, mapping_image: str | None, expected: str) -> None:
    config = settings(SESSION_IMAGE="default/image:1", LOCAL_RUNNER_IMAGE="local/image:1")
    spec = mapping(runner={"sessionImage": mapping_image} if mapping_image else {})

    assert session_image(mode, config, spec, override) == expected


def test_local_runs_need_a_local_image() -> None:
    with pytest.raises(LaunchError, match="LOCAL_RUNNER_IMAGE"):
        session_image("local", settings(), mapping(), None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("image: [", "not valid YAML"), ("tag: x", "must hold `image:"), ("image: two words", "must hold"), ("", "must")],
)
def test_a_bad_image_file_names_the_file_the_repo_and_the_fix(text: str, problem: str) -> None:
    with pytest.raises(LaunchError, match=problem) as refused:
        parse_image_override(text, "acme/web")
    assert ".ai-implement/image.yml in acme/web" in str(refused.value)


def test_a_good_image_file() -> None:
    assert parse_image_override("image: ghcr.io/acme/runner:2\n", "acme/web") == "ghcr.io/acme/runner:2"


@pytest.mark.parametrize(
    ("environ", "provider", "expected"),
    [
        (
            {"CLAUDE_CODE_OAUTH_TOKEN": "oat", "ANTHROPIC_API_KEY": "key"},
            "anthropic",
            {"CLAUDE_CODE_OAUTH_TOKEN": "oat"},
        ),
        ({"ANTHROPIC_API_KEY": "key"}, "anthropic", {"ANTHROPIC_API_KEY": "key"}),
        ({}, "anthropic", {}),
        ({"CLAUDE_CODE_OAUTH_TOKEN": "oat", "ANTHROPIC_API_KEY": "key"}, "bedrock", {}),
    ],
    ids=["oauth-preferred", "api-key-fallback", "none", "bedrock-gets-neither"],
)
def test_claude_credentials_follow_the_specification(
    environ: dict[str, str], provider: str, expected: dict[str, str]
) -> None:
    provider_spec = {"name": provider, "awsRegion": "us-east-1"} if provider == "bedrock" else {"name": provider}
    spec = mapping(provider=provider_spec, runner={"executionMode": "github-actions"})

    assert claude_credentials(settings(**environ), spec) == expected


def facts(spec: DispatchSpec, mapping_spec: ProjectMappingSpec) -> LaunchFacts:
    tokens = mint_runner_tokens(
        "s" * 32,
        dispatch_uid="uid-1",
        dispatch_name="eng-1-implementation-1",
        namespace="ai",
        issued_at=NOW,
        expires_at=NOW + timedelta(hours=2),
    )
    return LaunchFacts(
        dispatch_name="eng-1-implementation-1",
        dispatch_uid="uid-1",
        namespace="ai",
        spec=spec,
        mapping=mapping_spec,
        image="img:1",
        tokens=tokens,
        team_secrets={"MY_TOKEN": "team-secret"},
        deadline=NOW + timedelta(minutes=90),
        fly_region="ams",
    )


def test_the_environment_is_free_of_secrets_and_the_secrets_carry_the_tokens() -> None:
    config = settings(
        RUNNER_CALLBACK_BASE_URL="https://ai.example.com",
        RUNNER_TOKEN_SECRET="t" * 32,
        ANTHROPIC_API_KEY="sk-ant-api03-secret",
        CLIENT_SLUG="acme",
    )
    spec = dispatch_spec(kind="review", iteration=2, pullRequest={"number": 7, "headBranch": "ai/eng-1"})

    launch = compose_launch(facts(spec, mapping()), config, "fly-machines")

    values = set(launch.environment.values())
    assert not values & {"sk-ant-api03-secret", "team-secret"}
    assert not any(value.startswith("ey") for value in values)
    assert launch.environment["AI_IMPLEMENT_CALLBACK_URL"] == "https://ai.example.com"
    assert launch.environment["AI_IMPLEMENT_PR_NUMBER"] == "7"
    assert launch.environment["AI_IMPLEMENT_PR_BRANCH"] == "ai/eng-1"
    assert launch.environment["AI_IMPLEMENT_MAX_ITERATIONS"] == "3"
    assert launch.secrets["ANTHROPIC_API_KEY"] == "sk-ant-api03-secret"
    assert launch.secrets["MY_TOKEN"] == "team-secret"
    assert {PROGRESS_TOKEN_VARIABLE, RESULT_TOKEN_VARIABLE} <= set(launch.secrets)
    assert (launch.region, launch.tenant, launch.pull_request_number) == ("ams", "acme", 7)
    assert launch.metadata()["tenant"] == "acme"


def test_bedrock_runs_get_the_region_and_no_anthropic_key() -> None:
    config = settings(
        RUNNER_CALLBACK_BASE_URL="https://ai.example.com",
        RUNNER_TOKEN_SECRET="t" * 32,
        ANTHROPIC_API_KEY="sk-ant-api03-secret",
    )
    spec = mapping(provider={"name": "bedrock", "awsRegion": "eu-west-1"}, runner={"executionMode": "github-actions"})

    launch = compose_launch(facts(dispatch_spec(runnerMode="github-actions"), spec), config, "github-actions")

    assert launch.environment["CLAUDE_CODE_USE_BEDROCK"] == "1"
    assert launch.environment["AWS_REGION"] == "eu-west-1"
    assert launch.environment["AI_IMPLEMENT_MAX_ITERATIONS"] == "2"
    assert "ANTHROPIC_API_KEY" not in launch.secrets


def test_local_runs_call_back_through_the_local_url_and_others_need_the_public_one() -> None:
    config = settings(
        RUNNER_CALLBACK_BASE_URL="https://ai.example.com",
        RUNNER_TOKEN_SECRET="t" * 32,
        LOCAL_RUNNER_ORCHESTRATOR_URL="http://host.docker.internal:8080",
    )
    local = compose_launch(facts(dispatch_spec(runnerMode="local"), mapping()), config, "local")
    assert local.callback_base_url == "http://host.docker.internal:8080"

    with pytest.raises(LaunchError, match="RUNNER_CALLBACK_BASE_URL"):
        compose_launch(facts(dispatch_spec(), mapping()), settings(), "fly-machines")
