"""Loading and validating the settings: defaults, every rule's message, secrets kept out of sight."""

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from controller.config import (
    ConfigProblem,
    ConfigurationError,
    Environment,
    LogLevel,
    NotifyType,
    RunnerMode,
    SecretsBackend,
    Settings,
    load_settings,
)

SPEC_VARIABLES = {
    "GITHUB_APP_ID",
    "GITHUB_APP_PRIVATE_KEY",
    "LINEAR_API_KEY",
    "LINEAR_WORKSPACE_URL",
    "JIRA_TOKEN",
    "JIRA_CLOUD_ID",
    "JIRA_SITE_URL",
    "ADMIN_ACCESS_CODE",
    "PORT",
    "POLL_INTERVAL_MS",
    "DEDUP_DB_PATH",
    "GITHUB_WEBHOOK_SECRET",
    "NOTIFY_TYPE",
    "NOTIFY_WEBHOOK_URL",
    "RUNNER_MODE",
    "FLY_SESSIONS_APP",
    "FLY_SESSIONS_REGION",
    "FLY_SESSIONS_TOKEN",
    "SESSION_IMAGE",
    "LOCAL_RUNNER_IMAGE",
    "LOCAL_RUNNER_ORCHESTRATOR_URL",
    "RUNNER_CALLBACK_BASE_URL",
    "RUNNER_TOKEN_SECRET",
    "GAP_FILL_TRIGGER_SECRET",
    "REAPER_DRY_RUN",
    "REAPER_ALERT_THRESHOLD",
    "CLIENT_SLUG",
    "FLY_APP_NAME",
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
}
OUR_VARIABLES = {
    "DATABASE_URL",
    "AI_IMPLEMENT_ENV",
    "KUBERNETES_SERVICE_HOST",
    "LOG_LEVEL",
    "AI_IMPLEMENT_NAMESPACE",
    "SECRETS_BACKEND",
    "LINEAR_API_URL",
    "JIRA_API_BASE_URL",
    "FLY_API_BASE_URL",
    "AI_IMPLEMENT_LABEL",
    "AI_WORKING_LABEL",
    "JIRA_IMPLEMENTING_STATUS",
    "LINEAR_WEBHOOK_SECRET",
    "JIRA_WEBHOOK_SECRET",
    "TRUSTED_PROXY_HOPS",
    "RUNNER_PROGRESS_TIMEOUT_MINUTES",
    "RUNNER_STOP_GRACE_SECONDS",
    "GAP_FILL_MAX_RUNS",
    "GITHUB_OIDC_ISSUER",
    "FLY_OIDC_ISSUER",
    "DOCKER_HOST",
    "GITHUB_API_URL",
    "REAPER_INTERVAL_SECONDS",
    "REAPER_GRACE_MINUTES",
    "OPERATOR_PORT",
    "METRICS_PORT",
    "LEADER_LEASE_SECONDS",
    "CUSTOM_DIR",
    "CLIENTS_DIR",
}
SECRET_VARIABLES = {
    "GITHUB_APP_PRIVATE_KEY",
    "LINEAR_API_KEY",
    "JIRA_TOKEN",
    "ADMIN_ACCESS_CODE",
    "GITHUB_WEBHOOK_SECRET",
    "NOTIFY_WEBHOOK_URL",
    "FLY_SESSIONS_TOKEN",
    "RUNNER_TOKEN_SECRET",
    "GAP_FILL_TRIGGER_SECRET",
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "DATABASE_URL",
    "LINEAR_WEBHOOK_SECRET",
    "JIRA_WEBHOOK_SECRET",
}


def pem_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, private_format: serialization.PrivateFormat) -> str:
    return key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption()).decode()


def load(**environ: str) -> Settings:
    return load_settings(environ, env_file=None)


def problems_of(**environ: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigurationError) as caught:
        load(**environ)
    return caught.value.problems


def test_every_variable_of_the_spec_and_ours_is_a_setting() -> None:
    assert {name.upper() for name in Settings.model_fields} == SPEC_VARIABLES | OUR_VARIABLES


def test_secrets_are_exactly_the_credential_variables() -> None:
    secret_fields = {
        name.upper() for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
    }
    assert secret_fields == SECRET_VARIABLES


def test_every_variable_has_its_documented_default() -> None:
    settings = load()

    defaults = {name: getattr(settings, name) for name in Settings.model_fields}

    assert defaults == {
        "github_app_id": None,
        "github_app_private_key": None,
        "linear_api_key": None,
        "linear_workspace_url": "https://linear.app",
        "jira_token": None,
        "jira_cloud_id": None,
        "jira_site_url": None,
        "admin_access_code": None,
        "port": 8080,
        "operator_port": 8081,
        "metrics_port": 9090,
        "leader_lease_seconds": 15,
        "poll_interval_ms": 60000,
        "dedup_db_path": None,
        "github_webhook_secret": None,
        "ai_implement_env": None,
        "kubernetes_service_host": None,
        "log_level": LogLevel.INFO,
        "custom_dir": Path("custom"),
        "notify_type": NotifyType.SLACK,
        "notify_webhook_url": None,
        "runner_mode": RunnerMode.DEFAULT,
        "fly_sessions_app": None,
        "fly_sessions_region": "iad",
        "fly_sessions_token": None,
        "session_image": "ghcr.io/builddownai/ai-implement-runner:latest",
        "docker_host": "unix:///var/run/docker.sock",
        "local_runner_image": None,
        "local_runner_orchestrator_url": None,
        "runner_callback_base_url": None,
        "runner_token_secret": None,
        "runner_progress_timeout_minutes": 20,
        "runner_stop_grace_seconds": 60,
        "gap_fill_max_runs": 5,
        "reaper_interval_seconds": 300,
        "reaper_grace_minutes": 10,
        "github_oidc_issuer": "https://token.actions.githubusercontent.com",
        "fly_oidc_issuer": None,
        "gap_fill_trigger_secret": None,
        "reaper_dry_run": False,
        "reaper_alert_threshold": None,
        "client_slug": None,
        "fly_app_name": None,
        "clients_dir": Path("clients"),
        "anthropic_api_key": None,
        "claude_code_oauth_token": None,
        "database_url": None,
        "ai_implement_namespace": None,
        "secrets_backend": SecretsBackend.AUTO,
        "linear_api_url": "https://api.linear.app/graphql",
        "jira_api_base_url": "https://api.atlassian.com",
        "github_api_url": "https://api.github.com",
        "fly_api_base_url": "https://api.machines.dev",
        "ai_implement_label": "AI-Implement",
        "ai_working_label": "AI-Working",
        "jira_implementing_status": "Implementing",
        "linear_webhook_secret": None,
        "jira_webhook_secret": None,
        "trusted_proxy_hops": 0,
    }
    assert settings.effective_dedup_db_path == Path("./dedup.sqlite")
    assert settings.poll_interval == timedelta(minutes=1)
    assert settings.warnings == []


def test_values_are_parsed_into_their_types() -> None:
    settings = load(
        GITHUB_APP_ID="123456",
        PORT=" 9090 ",
        POLL_INTERVAL_MS="30000",
        REAPER_DRY_RUN="yes",
        REAPER_ALERT_THRESHOLD="25",
        RUNNER_CALLBACK_BASE_URL="https://ai-implement.example.com/",
        RUNNER_TOKEN_SECRET="signing-secret",
        LOG_LEVEL="debug",
        DEDUP_DB_PATH="/var/lib/ai-implement/dedup.sqlite",
    )

    assert settings.github_app_id == 123456
    assert settings.port == 9090
    assert settings.poll_interval == timedelta(seconds=30)
    assert settings.reaper_dry_run is True
    assert settings.reaper_alert_threshold == 25
    assert settings.runner_callback_base_url == "https://ai-implement.example.com"
    assert settings.log_level is LogLevel.DEBUG
    assert settings.effective_dedup_db_path == Path("/var/lib/ai-implement/dedup.sqlite")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RUNNER_MODE", "FLY", RunnerMode.FLY),
        ("RUNNER_MODE", "Shadow", RunnerMode.SHADOW),
        ("RUNNER_MODE", "gha", RunnerMode.GHA),
        ("NOTIFY_TYPE", "Teams", NotifyType.TEAMS),
        ("AI_IMPLEMENT_ENV", "PRODUCTION", Environment.PRODUCTION),
        ("LOG_LEVEL", "warning", LogLevel.WARNING),
    ],
)
def test_choices_are_accepted_in_any_letter_case(variable: str, value: str, expected: object) -> None:
    fly_credentials = {"FLY_SESSIONS_APP": "sessions", "FLY_SESSIONS_TOKEN": "fly-token"}

    settings = load(**{variable: value}, **fly_credentials)

    assert getattr(settings, variable.lower()) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("0", False),
        ("No", False),
    ],
)
def test_reaper_dry_run_accepts_the_documented_boolean_spellings(value: str, expected: bool) -> None:
    assert load(REAPER_DRY_RUN=value).reaper_dry_run is expected


@pytest.mark.parametrize(
    ("environ", "variable", "fragments"),
    [
        ({"GITHUB_APP_ID": "my-app"}, "GITHUB_APP_ID", ["'my-app'", "numeric App ID"]),
        ({"GITHUB_APP_ID": "0"}, "GITHUB_APP_ID", ["GITHUB_APP_ID=0", "out of range"]),
        ({"PORT": "http"}, "PORT", ["PORT='http'", "1 to 65535"]),
        ({"PORT": "0"}, "PORT", ["PORT=0", "1 to 65535"]),
        ({"PORT": "70000"}, "PORT", ["PORT=70000", "1 to 65535"]),
        ({"OPERATOR_PORT": "metrics"}, "OPERATOR_PORT", ["OPERATOR_PORT='metrics'", "1 to 65535", "8081"]),
        ({"OPERATOR_PORT": "0"}, "OPERATOR_PORT", ["OPERATOR_PORT=0", "1 to 65535"]),
        ({"METRICS_PORT": "metrics"}, "METRICS_PORT", ["METRICS_PORT='metrics'", "1 to 65535", "9090"]),
        ({"METRICS_PORT": "70000"}, "METRICS_PORT", ["METRICS_PORT=70000", "1 to 65535"]),
        ({"LEADER_LEASE_SECONDS": "2"}, "LEADER_LEASE_SECONDS", ["LEADER_LEASE_SECONDS=2", "6 to 300", "15"]),
        ({"POLL_INTERVAL_MS": "0"}, "POLL_INTERVAL_MS", ["POLL_INTERVAL_MS=0", "positive whole number"]),
        ({"POLL_INTERVAL_MS": "-5"}, "POLL_INTERVAL_MS", ["POLL_INTERVAL_MS=-5", "positive whole number"]),
        ({"POLL_INTERVAL_MS": "1.5"}, "POLL_INTERVAL_MS", ["'1.5'", "positive whole number"]),
        ({"REAPER_ALERT_THRESHOLD": "0"}, "REAPER_ALERT_THRESHOLD", ["REAPER_ALERT_THRESHOLD=0", "unset"]),
        ({"REAPER_ALERT_THRESHOLD": "lots"}, "REAPER_ALERT_THRESHOLD", ["'lots'", "positive whole number"]),
        ({"REAPER_DRY_RUN": "maybe"}, "REAPER_DRY_RUN", ["'maybe'", "true or false"]),
        ({"REAPER_INTERVAL_SECONDS": "5"}, "REAPER_INTERVAL_SECONDS", ["REAPER_INTERVAL_SECONDS=5", "10 to 86400"]),
        ({"REAPER_INTERVAL_SECONDS": "5m"}, "REAPER_INTERVAL_SECONDS", ["'5m'", "whole number"]),
        ({"REAPER_GRACE_MINUTES": "0"}, "REAPER_GRACE_MINUTES", ["REAPER_GRACE_MINUTES=0", "positive whole number"]),
        ({"RUNNER_MODE": "docker"}, "RUNNER_MODE", ["'docker'", "default, gha, fly, local, shadow"]),
        ({"NOTIFY_TYPE": "discord"}, "NOTIFY_TYPE", ["'discord'", "slack, teams"]),
        ({"AI_IMPLEMENT_ENV": "staging"}, "AI_IMPLEMENT_ENV", ["'staging'", "production, development"]),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL", ["'verbose'", "DEBUG, INFO, WARNING, ERROR"]),
        (
            {"LINEAR_WORKSPACE_URL": "linear.app"},
            "LINEAR_WORKSPACE_URL",
            ["'linear.app'", "https://linear.app"],
        ),
        ({"JIRA_SITE_URL": "ftp://acme.example"}, "JIRA_SITE_URL", ["'ftp://acme.example'", "http(s) URL"]),
        (
            {"RUNNER_CALLBACK_BASE_URL": "ai.example.com", "RUNNER_TOKEN_SECRET": "s"},
            "RUNNER_CALLBACK_BASE_URL",
            ["'ai.example.com'", "http(s) URL"],
        ),
        (
            {"LOCAL_RUNNER_ORCHESTRATOR_URL": "host.docker.internal:8080"},
            "LOCAL_RUNNER_ORCHESTRATOR_URL",
            ["'host.docker.internal:8080'", "http://host.docker.internal:8080"],
        ),
        ({"NOTIFY_WEBHOOK_URL": "hooks.slack.com/x"}, "NOTIFY_WEBHOOK_URL", ["value not shown", "https://"]),
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL", ["value not shown", "postgresql://"]),
        (
            {"RUNNER_CALLBACK_BASE_URL": "https://ai.example.com"},
            "RUNNER_TOKEN_SECRET",
            ["RUNNER_CALLBACK_BASE_URL is", "openssl rand"],
        ),
        (
            {"RUNNER_MODE": "fly", "FLY_SESSIONS_TOKEN": "t"},
            "FLY_SESSIONS_APP",
            ["RUNNER_MODE=fly", "Fly.io app"],
        ),
        (
            {"RUNNER_MODE": "fly", "FLY_SESSIONS_APP": "a"},
            "FLY_SESSIONS_TOKEN",
            ["RUNNER_MODE=fly", "Fly API"],
        ),
        ({"RUNNER_MODE": "shadow", "FLY_SESSIONS_TOKEN": "t"}, "FLY_SESSIONS_APP", ["RUNNER_MODE=shadow"]),
        ({"GITHUB_APP_PRIVATE_KEY": "not a key"}, "GITHUB_APP_PRIVATE_KEY", ["value not shown", "\\n"]),
    ],
)
def test_each_rule_names_the_variable_and_what_would_be_right(
    environ: dict[str, str], variable: str, fragments: list[str]
) -> None:
    problems = problems_of(**environ)

    assert [problem.variable for problem in problems] == [variable]
    assert problems[0].message.startswith(variable)
    for fragment in fragments:
        assert fragment in problems[0].message


def test_every_bad_variable_is_reported_at_once() -> None:
    problems = problems_of(
        PORT="70000",
        POLL_INTERVAL_MS="soon",
        RUNNER_MODE="fly",
        NOTIFY_TYPE="pager",
        RUNNER_CALLBACK_BASE_URL="https://ai.example.com",
    )

    assert [problem.variable for problem in problems] == [
        "PORT",
        "POLL_INTERVAL_MS",
        "NOTIFY_TYPE",
        "FLY_SESSIONS_APP",
        "FLY_SESSIONS_TOKEN",
        "RUNNER_TOKEN_SECRET",
    ]


def test_a_dependant_stays_quiet_when_the_variable_it_depends_on_is_itself_invalid() -> None:
    problems = problems_of(RUNNER_MODE="flying", RUNNER_CALLBACK_BASE_URL="not-a-url")

    assert [problem.variable for problem in problems] == ["RUNNER_MODE", "RUNNER_CALLBACK_BASE_URL"]


def test_the_error_lists_every_message_and_hides_pydantics_own_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(PORT="70000", LOG_LEVEL="loud")

    assert str(caught.value).splitlines()[1:] == [f"  {problem.message}" for problem in caught.value.problems]
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    "private_format", [serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8]
)
def test_a_private_key_with_literal_backslash_n_is_accepted_and_parsed(
    rsa_key: rsa.RSAPrivateKey, private_format: serialization.PrivateFormat
) -> None:
    pem = pem_of(rsa_key, private_format)
    one_line = pem.strip().replace("\n", "\\n")
    assert "\n" not in one_line

    settings = load(GITHUB_APP_PRIVATE_KEY=one_line)

    assert settings.github_app_private_key is not None
    assert settings.github_app_private_key.get_secret_value() == pem.strip()
    signing_key = settings.github_app_signing_key()
    assert signing_key is not None
    assert signing_key.public_key().public_numbers() == rsa_key.public_key().public_numbers()


def test_a_private_key_with_real_newlines_is_accepted(rsa_key: rsa.RSAPrivateKey) -> None:
    settings = load(GITHUB_APP_PRIVATE_KEY=pem_of(rsa_key, serialization.PrivateFormat.PKCS8))

    assert settings.github_app_signing_key() is not None


def test_without_a_private_key_there_is_no_signing_key() -> None:
    assert load().github_app_signing_key() is None


def test_a_garbage_private_key_is_rejected_without_echoing_it() -> None:
    garbage = "-----BEGIN RSA PRIVATE KEY-----\\nc2VjcmV0LWtleS1tYXRlcmlhbA==\\n-----END RSA PRIVATE KEY-----"

    problems = problems_of(GITHUB_APP_PRIVATE_KEY=garbage)

    assert [problem.variable for problem in problems] == ["GITHUB_APP_PRIVATE_KEY"]
    assert "c2VjcmV0LWtleS1tYXRlcmlhbA" not in problems[0].message
    assert "two characters \\n" in problems[0].message


def test_a_non_rsa_private_key_is_rejected() -> None:
    ec_pem = pem_of(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)

    problems = problems_of(GITHUB_APP_PRIVATE_KEY=ec_pem)

    assert [problem.variable for problem in problems] == ["GITHUB_APP_PRIVATE_KEY"]
    assert "not an RSA key" in problems[0].message


def test_an_encrypted_private_key_is_rejected_with_how_to_decrypt_it(rsa_key: rsa.RSAPrivateKey) -> None:
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()

    problems = problems_of(GITHUB_APP_PRIVATE_KEY=encrypted)

    assert [problem.variable for problem in problems] == ["GITHUB_APP_PRIVATE_KEY"]
    assert "encrypted with a passphrase" in problems[0].message
    assert "openssl rsa" in problems[0].message


def test_secrets_never_appear_in_repr_or_str(rsa_key: rsa.RSAPrivateKey) -> None:
    secrets = {variable: f"secret-value-of-{variable.lower()}" for variable in SECRET_VARIABLES}
    secrets["GITHUB_APP_PRIVATE_KEY"] = pem_of(rsa_key, serialization.PrivateFormat.PKCS8)
    secrets["NOTIFY_WEBHOOK_URL"] = "https://hooks.slack.com/services/secret-webhook-path"
    secrets["DATABASE_URL"] = "postgresql://controller:secret-db-password@db:5432/ai"

    settings = load(**secrets, RUNNER_CALLBACK_BASE_URL="https://ai.example.com")

    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for variable, value in secrets.items():
        assert settings.is_set(variable)
        assert value not in shown
    assert "secret-webhook-path" not in shown
    assert "secret-db-password" not in shown
    assert secrets["GITHUB_APP_PRIVATE_KEY"].splitlines()[1] not in shown


def test_invalid_secrets_never_appear_in_error_messages() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(
            GITHUB_APP_PRIVATE_KEY="private-key-secret-material",
            NOTIFY_WEBHOOK_URL="ftp://hooks.example/webhook-secret-path",
            DATABASE_URL="mysql://controller:db-secret-password@db/ai",
        )

    assert [problem.variable for problem in caught.value.problems] == [
        "GITHUB_APP_PRIVATE_KEY",
        "NOTIFY_WEBHOOK_URL",
        "DATABASE_URL",
    ]
    text = str(caught.value) + repr(caught.value.problems)
    for secret in ("private-key-secret-material", "webhook-secret-path", "db-secret-password", "mysql"):
        assert secret not in text


def test_a_poll_interval_below_ten_seconds_is_a_warning_not_an_error() -> None:
    settings = load(POLL_INTERVAL_MS="5000")

    assert settings.poll_interval == timedelta(seconds=5)
    assert [warning.variable for warning in settings.warnings] == ["POLL_INTERVAL_MS"]
    assert "POLL_INTERVAL_MS=5000" in settings.warnings[0].message
    assert load(POLL_INTERVAL_MS="10000").warnings == []


@pytest.mark.parametrize(
    ("environ", "warned_variables"),
    [
        ({"NOTIFY_TYPE": "teams"}, ["NOTIFY_TYPE"]),
        ({"NOTIFY_TYPE": "teams", "NOTIFY_WEBHOOK_URL": "https://teams.example/hook"}, []),
        ({"REAPER_ALERT_THRESHOLD": "10"}, ["REAPER_ALERT_THRESHOLD"]),
        ({"REAPER_ALERT_THRESHOLD": "10", "NOTIFY_WEBHOOK_URL": "https://hooks.slack.com/x"}, []),
        ({"LINEAR_API_KEY": "k", "JIRA_TOKEN": "t"}, ["JIRA_CLOUD_ID", "JIRA_SITE_URL"]),
        (
            {
                "LINEAR_API_KEY": "k",
                "JIRA_TOKEN": "t",
                "JIRA_CLOUD_ID": "c",
                "JIRA_SITE_URL": "https://a.example",
            },
            [],
        ),
        ({"JIRA_TOKEN": "t"}, []),
    ],
)
def test_settings_that_would_not_do_what_was_meant_are_warned_about(
    environ: dict[str, str], warned_variables: list[str]
) -> None:
    assert [warning.variable for warning in load(**environ).warnings] == warned_variables


@pytest.mark.parametrize(
    ("environ", "environment", "dedup_db_path"),
    [
        ({}, Environment.DEVELOPMENT, "./dedup.sqlite"),
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, Environment.PRODUCTION, "/data/dedup.sqlite"),
        ({"FLY_APP_NAME": "ai-implement-acme"}, Environment.PRODUCTION, "/data/dedup.sqlite"),
        ({"AI_IMPLEMENT_ENV": "production"}, Environment.PRODUCTION, "/data/dedup.sqlite"),
        (
            {"AI_IMPLEMENT_ENV": "development", "KUBERNETES_SERVICE_HOST": "10.96.0.1"},
            Environment.DEVELOPMENT,
            "./dedup.sqlite",
        ),
        (
            {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "DEDUP_DB_PATH": "/mnt/db.sqlite"},
            Environment.PRODUCTION,
            "/mnt/db.sqlite",
        ),
    ],
)
def test_production_is_detected_from_the_platform_unless_set(
    environ: dict[str, str], environment: Environment, dedup_db_path: str
) -> None:
    settings = load(**environ)

    assert settings.environment is environment
    assert settings.is_production is (environment is Environment.PRODUCTION)
    assert settings.effective_dedup_db_path == Path(dedup_db_path)


def test_the_environment_wins_over_the_dotenv_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9000\nLOG_LEVEL=DEBUG\nCLIENT_SLUG=from-file\nFLY_SESSIONS_REGION=ams\n")

    settings = load_settings({"PORT": "9100", "CLIENT_SLUG": "", "UNRELATED": "x"}, env_file=env_file)

    assert settings.port == 9100
    assert settings.log_level is LogLevel.DEBUG
    assert settings.client_slug == "from-file"
    assert settings.fly_sessions_region == "ams"


def test_a_missing_dotenv_file_is_no_error(tmp_path: Path) -> None:
    assert load_settings({}, env_file=tmp_path / "absent.env").port == 8080


def test_errors_from_the_dotenv_file_are_reported_like_the_environments(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=eighty\n")

    with pytest.raises(ConfigurationError) as caught:
        load_settings({}, env_file=env_file)

    assert [problem.variable for problem in caught.value.problems] == ["PORT"]


def test_empty_values_count_as_unset_and_unknown_variables_are_ignored() -> None:
    settings = load(PORT="", GITHUB_APP_ID="", RUNNER_MODE="", SOMETHING_ELSE="1", PATH="/usr/bin")

    assert settings.port == 8080
    assert settings.github_app_id is None
    assert settings.runner_mode is RunnerMode.DEFAULT


def test_variable_names_match_in_any_letter_case() -> None:
    assert load(port="9000").port == 9000


def test_provider_and_app_conveniences_follow_the_variables(rsa_key: rsa.RSAPrivateKey) -> None:
    bare = load()
    configured = load(
        GITHUB_APP_ID="1",
        GITHUB_APP_PRIVATE_KEY=pem_of(rsa_key, serialization.PrivateFormat.PKCS8),
        LINEAR_API_KEY="k",
        JIRA_TOKEN="t",
        JIRA_CLOUD_ID="c",
        JIRA_SITE_URL="https://acme.atlassian.net",
    )

    assert (bare.github_app_configured, bare.linear_configured, bare.jira_configured) == (False, False, False)
    assert (configured.github_app_configured, configured.linear_configured, configured.jira_configured) == (
        True,
        True,
        True,
    )
    assert load(GITHUB_APP_ID="1").github_app_configured is False
    assert load(JIRA_TOKEN="t").unset_jira_variables == ["JIRA_CLOUD_ID", "JIRA_SITE_URL"]


@pytest.mark.parametrize("environ", [{}, {"FLY_SESSIONS_APP": "sessions", "FLY_SESSIONS_TOKEN": "fly-token"}])
@pytest.mark.parametrize("backend", ["auto", "Kubernetes"])
def test_runner_secrets_are_kept_in_kubernetes_with_or_without_fly(environ: dict[str, str], backend: str) -> None:
    assert load(SECRETS_BACKEND=backend, **environ).secrets_backend in (SecretsBackend.AUTO, SecretsBackend.KUBERNETES)


def test_fly_secrets_are_refused_because_every_machine_would_see_every_teams() -> None:
    problems = problems_of(SECRETS_BACKEND="fly", FLY_SESSIONS_APP="sessions", FLY_SESSIONS_TOKEN="fly-token")
    assert [problem.variable for problem in problems] == ["SECRETS_BACKEND"]
    assert "every machine of the app" in problems[0].message
    assert "SECRETS_BACKEND=kubernetes" in problems[0].message


@pytest.mark.parametrize("namespace", ["Upper", "-leading", "has_underscore", "x" * 64])
def test_namespace_must_be_a_dns_label(namespace: str) -> None:
    problems = problems_of(AI_IMPLEMENT_NAMESPACE=namespace)
    assert [problem.variable for problem in problems] == ["AI_IMPLEMENT_NAMESPACE"]
    assert "namespace name" in problems[0].message
