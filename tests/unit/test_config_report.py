"""What `config check` shows: effective values with secrets redacted, start-up problems, exit codes."""

import pytest

from controller.config import (
    ConfigEntry,
    ConfigurationError,
    Section,
    Settings,
    ValueSource,
    effective_configuration,
    load_settings,
    operational_problems,
    render_config_check,
)


@pytest.fixture
def github_app(rsa_key_pem: str) -> dict[str, str]:
    return {"GITHUB_APP_ID": "123456", "GITHUB_APP_PRIVATE_KEY": rsa_key_pem.replace("\n", "\\n")}


def load(**environ: str) -> Settings:
    return load_settings(environ, env_file=None)


def entries_by_variable(settings: Settings) -> dict[str, ConfigEntry]:
    return {entry.variable: entry for entry in effective_configuration(settings)}


def test_the_effective_configuration_lists_every_variable_once_in_its_section() -> None:
    entries = effective_configuration(load())

    assert sorted(entry.variable for entry in entries) == sorted(name.upper() for name in Settings.model_fields)
    assert entries_by_variable(load())["GITHUB_APP_ID"].section is Section.GITHUB_APP
    assert entries_by_variable(load())["DATABASE_URL"].section is Section.STORE


def test_values_show_where_they_came_from(github_app: dict[str, str]) -> None:
    entries = entries_by_variable(load(**github_app, PORT="9000", KUBERNETES_SERVICE_HOST="10.96.0.1"))

    assert (entries["PORT"].value, entries["PORT"].source) == ("9000", ValueSource.ENVIRONMENT)
    assert (entries["POLL_INTERVAL_MS"].value, entries["POLL_INTERVAL_MS"].source) == (
        "60000",
        ValueSource.DEFAULT,
    )
    assert (entries["REAPER_DRY_RUN"].value, entries["REAPER_DRY_RUN"].source) == (
        "false",
        ValueSource.DEFAULT,
    )
    assert (entries["AI_IMPLEMENT_ENV"].value, entries["AI_IMPLEMENT_ENV"].source) == (
        "production",
        ValueSource.DERIVED,
    )
    assert (entries["DEDUP_DB_PATH"].value, entries["DEDUP_DB_PATH"].source) == (
        "/data/dedup.sqlite",
        ValueSource.DERIVED,
    )
    assert (entries["CLIENT_SLUG"].value, entries["CLIENT_SLUG"].source) == ("<unset>", ValueSource.DEFAULT)


def test_an_explicit_value_is_not_reported_as_derived() -> None:
    entries = entries_by_variable(load(AI_IMPLEMENT_ENV="Development", DEDUP_DB_PATH="/tmp/x.sqlite"))

    assert (entries["AI_IMPLEMENT_ENV"].value, entries["AI_IMPLEMENT_ENV"].source) == (
        "development",
        ValueSource.ENVIRONMENT,
    )
    assert (entries["DEDUP_DB_PATH"].value, entries["DEDUP_DB_PATH"].source) == (
        "/tmp/x.sqlite",
        ValueSource.ENVIRONMENT,
    )


def test_secrets_are_shown_only_as_set_or_unset(github_app: dict[str, str]) -> None:
    entries = entries_by_variable(load(**github_app, LINEAR_API_KEY="lin_api_secret"))

    assert entries["LINEAR_API_KEY"].value == "<set>"
    assert entries["GITHUB_APP_PRIVATE_KEY"].value == "<set>"
    assert entries["JIRA_TOKEN"].value == "<unset>"
    assert {entry.variable for entry in entries.values() if entry.secret} >= {
        "LINEAR_API_KEY",
        "DATABASE_URL",
    }


@pytest.mark.parametrize(
    ("with_app", "ticketing", "problem_variables"),
    [
        (True, {"LINEAR_API_KEY": "k"}, []),
        (True, {"JIRA_TOKEN": "t", "JIRA_CLOUD_ID": "c", "JIRA_SITE_URL": "https://acme.atlassian.net"}, []),
        (True, {"LINEAR_API_KEY": "k", "JIRA_TOKEN": "t"}, []),
        (True, {}, ["LINEAR_API_KEY"]),
        (True, {"JIRA_TOKEN": "t"}, ["JIRA_CLOUD_ID", "JIRA_SITE_URL"]),
        (True, {"JIRA_CLOUD_ID": "c", "JIRA_SITE_URL": "https://acme.atlassian.net"}, ["JIRA_TOKEN"]),
        (False, {"LINEAR_API_KEY": "k"}, ["GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY"]),
        (False, {}, ["GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "LINEAR_API_KEY"]),
    ],
)
def test_operational_problems_are_the_github_app_and_one_ticketing_provider(
    github_app: dict[str, str], with_app: bool, ticketing: dict[str, str], problem_variables: list[str]
) -> None:
    settings = load(**(github_app if with_app else {}), **ticketing)

    problems = operational_problems(settings)

    assert [problem.variable for problem in problems] == problem_variables
    for problem in problems:
        assert problem.variable in problem.message


def test_only_half_of_the_github_app_names_the_missing_half(github_app: dict[str, str]) -> None:
    problems = operational_problems(load(GITHUB_APP_ID=github_app["GITHUB_APP_ID"], LINEAR_API_KEY="k"))

    assert [problem.variable for problem in problems] == ["GITHUB_APP_PRIVATE_KEY"]
    assert problems[0].message.startswith("GITHUB_APP_PRIVATE_KEY is not set")


def test_a_partial_jira_trio_names_the_missing_members() -> None:
    (problem,) = operational_problems(load(GITHUB_APP_ID="1", JIRA_TOKEN="t", JIRA_CLOUD_ID="c"))[1:]

    assert problem.variable == "JIRA_SITE_URL"
    assert problem.message.startswith("JIRA_SITE_URL is not set but JIRA_TOKEN and JIRA_CLOUD_ID are")


def test_config_check_passes_with_a_complete_configuration(github_app: dict[str, str]) -> None:
    text, exit_code = render_config_check(load(**github_app, LINEAR_API_KEY="k"))

    assert exit_code == 0
    assert text.startswith("AI-Implement configuration (development, detected: neither")
    assert "  PORT " in text
    assert text.endswith("Configuration is valid (0 errors, 0 warnings).\n")


def test_config_check_passes_with_warnings(github_app: dict[str, str]) -> None:
    text, exit_code = render_config_check(load(**github_app, LINEAR_API_KEY="k", POLL_INTERVAL_MS="5000"))

    assert exit_code == 0
    assert "\nwarning: POLL_INTERVAL_MS=5000 " in text
    assert text.endswith("Configuration is valid (0 errors, 1 warning).\n")


def test_config_check_fails_when_the_controller_could_not_start() -> None:
    text, exit_code = render_config_check(load(POLL_INTERVAL_MS="5000"))

    assert exit_code == 1
    problem_lines = [line for line in text.splitlines() if line.startswith(("error:", "warning:"))]
    assert [line.split()[:2] for line in problem_lines] == [
        ["error:", "GITHUB_APP_ID"],
        ["error:", "GITHUB_APP_PRIVATE_KEY"],
        ["error:", "LINEAR_API_KEY"],
        ["warning:", "POLL_INTERVAL_MS=5000"],
    ]
    assert text.endswith("Configuration is invalid (3 errors, 1 warning).\n")


def test_config_check_lists_each_invalid_variable_on_its_own_line() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(PORT="70000", RUNNER_MODE="flyy", REAPER_DRY_RUN="maybe")

    text, exit_code = render_config_check(caught.value)

    assert exit_code == 1
    error_lines = [line for line in text.splitlines() if line.startswith("error:")]
    assert [line.split()[1] for line in error_lines] == [
        "PORT=70000",
        "RUNNER_MODE='flyy'",
        "REAPER_DRY_RUN='maybe'",
    ]
    assert text.endswith("Configuration is invalid (3 errors, 0 warnings).\n")


def test_config_check_never_shows_a_secret(github_app: dict[str, str], rsa_key_pem: str) -> None:
    secrets = {
        "LINEAR_API_KEY": "lin_api_secret_value",
        "JIRA_TOKEN": "jira_secret_value",
        "ADMIN_ACCESS_CODE": "admin_secret_value",
        "GITHUB_WEBHOOK_SECRET": "webhook_secret_value",
        "NOTIFY_WEBHOOK_URL": "https://hooks.slack.com/services/notify_secret_value",
        "FLY_SESSIONS_TOKEN": "fly_secret_value",
        "RUNNER_TOKEN_SECRET": "runner_secret_value",
        "GAP_FILL_TRIGGER_SECRET": "gap_fill_secret_value",
        "ANTHROPIC_API_KEY": "anthropic_secret_value",
        "CLAUDE_CODE_OAUTH_TOKEN": "claude_secret_value",
        "DATABASE_URL": "postgresql://controller:database_secret_value@db:5432/ai",
    }

    text, exit_code = render_config_check(load(**github_app, **secrets))

    assert exit_code == 0
    for secret in [*secrets.values(), "notify_secret_value", "database_secret_value"]:
        assert secret not in text
    for pem_line in rsa_key_pem.splitlines():
        assert pem_line not in text
    assert text.count("<set>") == len(secrets) + 1


def test_config_check_never_shows_an_invalid_secret() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(
            GITHUB_APP_PRIVATE_KEY="key_secret_value",
            NOTIFY_WEBHOOK_URL="hooks.slack.com/notify_secret_value",
            DATABASE_URL="sqlite:///database_secret_value",
        )

    text, _ = render_config_check(caught.value)

    for secret in ("key_secret_value", "notify_secret_value", "database_secret_value"):
        assert secret not in text
