"""What one project mapping needs, as a table: settings and mapping choices in, missing variables out."""

from dataclasses import dataclass, field

import pytest

from controller.config import (
    RunnerMode,
    Settings,
    bedrock_kept_off_fly,
    effective_execution_mode,
    load_settings,
    missing_for_mapping,
)

GITHUB_APP_ID = {"GITHUB_APP_ID": "123456"}
LINEAR = {"LINEAR_API_KEY": "lin_api_key"}
JIRA = {
    "JIRA_TOKEN": "jira_token",
    "JIRA_CLOUD_ID": "cloud-id",
    "JIRA_SITE_URL": "https://acme.atlassian.net",
}
FLY = {
    "FLY_SESSIONS_APP": "ai-implement-sessions",
    "FLY_SESSIONS_TOKEN": "fly_token",
    "FLY_OIDC_ISSUER": "https://oidc.fly.io/acme",
}
CALLBACKS = {"RUNNER_CALLBACK_BASE_URL": "https://ai.example.com", "RUNNER_TOKEN_SECRET": "signing_secret"}
LOCAL = {"LOCAL_RUNNER_IMAGE": "ai-implement-runner:dev"}
OAUTH = {"CLAUDE_CODE_OAUTH_TOKEN": "oauth_token"}
API_KEY = {"ANTHROPIC_API_KEY": "anthropic_key"}


@pytest.fixture
def github_app(rsa_key_pem: str) -> dict[str, str]:
    return {**GITHUB_APP_ID, "GITHUB_APP_PRIVATE_KEY": rsa_key_pem}


@dataclass(frozen=True)
class Case:
    environ: dict[str, str]
    ticketing: str = "linear"
    execution: str = "github-actions"
    model: str = "anthropic"
    missing: list[str] = field(default_factory=list)
    with_app: bool = True


CASES = {
    "linear on github actions needs linear and the callbacks": Case({**LINEAR, **CALLBACKS}),
    "github actions runs report back too": Case(LINEAR, missing=["RUNNER_CALLBACK_BASE_URL", "RUNNER_TOKEN_SECRET"]),
    "github actions without the callback url": Case(
        {**LINEAR, "RUNNER_TOKEN_SECRET": "signing_secret"}, missing=["RUNNER_CALLBACK_BASE_URL"]
    ),
    "linear without its key": Case(CALLBACKS, missing=["LINEAR_API_KEY"]),
    "jira needs the whole trio": Case(
        CALLBACKS, ticketing="jira", missing=["JIRA_TOKEN", "JIRA_CLOUD_ID", "JIRA_SITE_URL"]
    ),
    "jira names only the missing members": Case(
        {**CALLBACKS, "JIRA_TOKEN": "t"}, ticketing="jira", missing=["JIRA_CLOUD_ID", "JIRA_SITE_URL"]
    ),
    "jira complete": Case({**JIRA, **CALLBACKS}, ticketing="jira"),
    "a linear key does not serve a jira mapping": Case(
        {**LINEAR, **CALLBACKS}, ticketing="jira", missing=["JIRA_TOKEN", "JIRA_CLOUD_ID", "JIRA_SITE_URL"]
    ),
    "every mapping needs the github app": Case(
        {**LINEAR, **CALLBACKS}, with_app=False, missing=["GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY"]
    ),
    "half a github app": Case(
        {**LINEAR, **CALLBACKS, **GITHUB_APP_ID}, with_app=False, missing=["GITHUB_APP_PRIVATE_KEY"]
    ),
    "fly machines need fly, callbacks and claude": Case(
        LINEAR,
        execution="fly-machines",
        missing=[
            "FLY_SESSIONS_APP",
            "FLY_SESSIONS_TOKEN",
            "FLY_OIDC_ISSUER",
            "RUNNER_CALLBACK_BASE_URL",
            "RUNNER_TOKEN_SECRET",
            "CLAUDE_CODE_OAUTH_TOKEN",
        ],
    ),
    "fly machines fully equipped with the oauth token": Case(
        {**LINEAR, **FLY, **CALLBACKS, **OAUTH}, execution="fly-machines"
    ),
    "fly machines fully equipped with the api key": Case(
        {**LINEAR, **FLY, **CALLBACKS, **API_KEY}, execution="fly-machines"
    ),
    "bedrock on fly machines needs no claude credentials": Case(
        {**LINEAR, **FLY, **CALLBACKS}, execution="fly-machines", model="bedrock"
    ),
    "local docker needs its image, callbacks and claude": Case(
        LINEAR,
        execution="local",
        missing=[
            "LOCAL_RUNNER_IMAGE",
            "RUNNER_CALLBACK_BASE_URL",
            "RUNNER_TOKEN_SECRET",
            "CLAUDE_CODE_OAUTH_TOKEN",
        ],
    ),
    "local docker fully equipped": Case({**LINEAR, **LOCAL, **CALLBACKS, **OAUTH}, execution="local"),
    "runner mode fly overrides github actions": Case(
        {**LINEAR, **FLY, "RUNNER_MODE": "fly"},
        missing=["RUNNER_CALLBACK_BASE_URL", "RUNNER_TOKEN_SECRET", "CLAUDE_CODE_OAUTH_TOKEN"],
    ),
    "runner mode gha overrides fly machines": Case(
        {**LINEAR, **CALLBACKS, "RUNNER_MODE": "gha"}, execution="fly-machines"
    ),
    "runner mode local overrides fly machines": Case(
        {**LINEAR, **CALLBACKS, **OAUTH, "RUNNER_MODE": "local"},
        execution="fly-machines",
        missing=["LOCAL_RUNNER_IMAGE"],
    ),
    "runner mode shadow dispatches through github actions plus a fly machine": Case(
        {**LINEAR, **FLY, **CALLBACKS, "RUNNER_MODE": "shadow"}, execution="fly-machines"
    ),
    "runner mode default keeps the mapping's mode": Case(
        {**LINEAR, **LOCAL, **CALLBACKS, **OAUTH, "RUNNER_MODE": "default"}, execution="local"
    ),
}


def load(environ: dict[str, str]) -> Settings:
    return load_settings(environ, env_file=None)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_missing_for_mapping(case: Case, github_app: dict[str, str]) -> None:
    settings = load({**(github_app if case.with_app else {}), **case.environ})

    problems = missing_for_mapping(
        settings, ticketing_provider=case.ticketing, execution_mode=case.execution, model_provider=case.model
    )

    assert [problem.variable for problem in problems] == case.missing
    for problem in problems:
        assert problem.variable in problem.message


def test_messages_say_why_the_mapping_needs_the_variable() -> None:
    messages = [
        problem.message
        for problem in missing_for_mapping(
            load({"RUNNER_MODE": "fly", **FLY}),
            ticketing_provider="linear",
            execution_mode="github-actions",
            model_provider="anthropic",
        )
    ]

    assert "LINEAR_API_KEY is not set: the mapping uses Linear." in messages
    assert (
        "RUNNER_CALLBACK_BASE_URL is not set: RUNNER_MODE=fly runs every mapping on Fly Machines, "
        "and every runner reports its progress and result to this URL."
    ) in messages
    assert any(
        message.startswith("Neither CLAUDE_CODE_OAUTH_TOKEN nor ANTHROPIC_API_KEY is set") for message in messages
    )


@pytest.mark.parametrize(
    ("runner_mode", "execution_mode", "effective"),
    [
        (RunnerMode.DEFAULT, "fly-machines", "fly-machines"),
        (RunnerMode.DEFAULT, "local", "local"),
        (RunnerMode.GHA, "fly-machines", "github-actions"),
        (RunnerMode.SHADOW, "local", "github-actions"),
        (RunnerMode.FLY, "github-actions", "fly-machines"),
        (RunnerMode.LOCAL, "github-actions", "local"),
    ],
)
def test_runner_mode_overrides_the_mappings_execution_mode_unless_default(
    runner_mode: RunnerMode, execution_mode: str, effective: str
) -> None:
    assert effective_execution_mode(runner_mode, execution_mode) == effective


@pytest.mark.parametrize(
    ("runner_mode", "execution_mode", "effective", "kept_off"),
    [
        (RunnerMode.FLY, "github-actions", "github-actions", True),
        (RunnerMode.FLY, "local", "local", True),
        (RunnerMode.SHADOW, "github-actions", "github-actions", True),
        (RunnerMode.LOCAL, "github-actions", "local", False),
        (RunnerMode.GHA, "local", "github-actions", False),
        (RunnerMode.DEFAULT, "github-actions", "github-actions", False),
    ],
)
def test_a_bedrock_mapping_never_goes_to_fly_whatever_the_runner_mode(
    runner_mode: RunnerMode, execution_mode: str, effective: str, kept_off: bool
) -> None:
    assert effective_execution_mode(runner_mode, execution_mode, "bedrock") == effective
    note = bedrock_kept_off_fly(runner_mode, execution_mode, "bedrock")
    assert (note is not None) == kept_off
    if note is not None:
        assert "Bedrock cannot run on Fly Machines" in note
        assert f"its runs go to {effective}" in note
    assert bedrock_kept_off_fly(runner_mode, execution_mode, "anthropic") is None


@pytest.mark.parametrize(
    ("parameter", "choices"),
    [
        (
            "ticketing_provider",
            {"ticketing_provider": "github", "execution_mode": "local", "model_provider": "bedrock"},
        ),
        (
            "execution_mode",
            {"ticketing_provider": "jira", "execution_mode": "k8s", "model_provider": "bedrock"},
        ),
        (
            "model_provider",
            {"ticketing_provider": "jira", "execution_mode": "local", "model_provider": "openai"},
        ),
    ],
)
def test_values_the_mapping_schema_forbids_are_a_programming_error(parameter: str, choices: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=parameter):
        missing_for_mapping(load({}), **choices)
