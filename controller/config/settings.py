"""The one settings object: every environment variable the controller reads, validated at start-up.

Each field is named after its variable in lower case (``PORT`` is ``port``) and its description is
the user documentation of that variable: ``docs/configuration.md`` is generated from these fields.
A bad value stops start-up with every problem listed at once, and no message ever quotes a secret.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from controller.config.problems import ConfigProblem, ConfigurationError
from controller.config.sources import (
    CLIENT_SLUG_RULE,
    ClientFile,
    ValueOrigin,
    ValueSource,
    is_client_slug,
    is_secret,
    read_layers,
)


class Section(StrEnum):
    """Groups of variables, in the order the documentation presents them."""

    GITHUB_APP = "GitHub App (required)"
    TICKETING = "Ticketing"
    SERVICE = "Service"
    NOTIFICATIONS = "Notifications"
    RUNNER_MODE = "Runner mode"
    RUNNER_CALLBACKS = "Runner callbacks"
    REAPER = "Reaper"
    MULTI_TENANT = "Multi-tenant"
    RUNNER_CREDENTIALS = "Runner credentials"
    STORE = "Store"
    SECRETS = "Secrets"
    ENDPOINTS = "Service endpoints"


class RunnerMode(StrEnum):
    """Global override of where every mapping's runs execute."""

    DEFAULT = "default"
    GHA = "gha"
    FLY = "fly"
    LOCAL = "local"
    SHADOW = "shadow"


class NotifyType(StrEnum):
    """Chat service that receives dispatch notifications and reaper alerts."""

    SLACK = "slack"
    TEAMS = "teams"


class Environment(StrEnum):
    """Where the controller runs; decides defaults that differ between a cluster and a laptop."""

    PRODUCTION = "production"
    DEVELOPMENT = "development"


class SecretsBackend(StrEnum):
    """Where the per-team and global runner secrets managed through the admin API are kept."""

    AUTO = "auto"
    FLY = "fly"
    KUBERNETES = "kubernetes"


class LogLevel(StrEnum):
    """Lowest severity that reaches the log."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


JIRA_VARIABLES: Final = ("JIRA_TOKEN", "JIRA_CLOUD_ID", "JIRA_SITE_URL")
RECOMMENDED_MINIMUM_POLL_INTERVAL_MS: Final = 10_000
DEFAULT_DEDUP_DB_PATHS: Final = {
    Environment.PRODUCTION: Path("/data/dedup.sqlite"),
    Environment.DEVELOPMENT: Path("./dedup.sqlite"),
}

_INVALID_SETTING: Final = "invalid_setting"
_TRUE_WORDS: Final = frozenset({"true", "1", "yes"})
_FALSE_WORDS: Final = frozenset({"false", "0", "no"})
_URL_EXAMPLES: Final = {
    "linear_workspace_url": "https://linear.app",
    "jira_site_url": "https://acme.atlassian.net",
    "local_runner_orchestrator_url": "http://host.docker.internal:8080",
    "runner_callback_base_url": "https://ai-implement.example.com",
    "linear_api_url": "https://api.linear.app/graphql",
    "jira_api_base_url": "https://api.atlassian.com",
    "fly_api_base_url": "https://api.machines.dev",
    "github_api_url": "https://api.github.com",
    "github_oidc_issuer": "https://token.actions.githubusercontent.com",
    "fly_oidc_issuer": "https://oidc.fly.io/acme",
}
_FLY_CREDENTIAL_HINTS: Final = {
    "fly_sessions_app": "the name of the Fly.io app that hosts the session machines",
    "fly_sessions_token": "a Fly API token scoped to that app",
}
_ChoiceT = TypeVar("_ChoiceT", bound=StrEnum)


def _invalid(message: str) -> PydanticCustomError:
    """Carry our own complete message through pydantic; passing it as context keeps braces literal."""
    return PydanticCustomError(_INVALID_SETTING, "{message}", {"message": message})


def _parse_choice(variable: str, value: object, choices: type[_ChoiceT]) -> _ChoiceT:
    """Accept any letter case, because `RUNNER_MODE=Fly` has only one sensible meaning."""
    text = str(value).strip()
    for choice in choices:
        if choice.value.casefold() == text.casefold():
            return choice
    accepted = ", ".join(choice.value for choice in choices)
    raise _invalid(f"{variable}={text!r} is not an accepted value: use one of {accepted} (any letter case).")


def _parse_integer(variable: str, value: object, *, minimum: int, maximum: int | None, expected: str) -> int:
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        raise _invalid(f"{variable}={text!r} is not a whole number: {expected}.") from None
    if number < minimum or (maximum is not None and number > maximum):
        raise _invalid(f"{variable}={number} is out of range: {expected}.")
    return number


def _is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _load_rsa_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parse the key as GitHub issues it; every failure message avoids quoting any of the key."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        raise _invalid(
            "GITHUB_APP_PRIVATE_KEY is encrypted with a passphrase (value not shown): the controller needs "
            "the unencrypted key, as downloaded from the GitHub App's settings page, or decrypt it with "
            "`openssl rsa -in key.pem -out plain.pem`."
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise _invalid(
            "GITHUB_APP_PRIVATE_KEY is not a PEM-encoded private key (value not shown): set it to the "
            "contents of the GitHub App's .pem file; in a single-line variable write each newline as the "
            'two characters \\n, e.g. "-----BEGIN RSA PRIVATE KEY-----\\nMIIE...\\n-----END RSA PRIVATE '
            'KEY-----".'
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _invalid(
            "GITHUB_APP_PRIVATE_KEY is a private key but not an RSA key (value not shown): GitHub Apps "
            "sign with RSA; generate a private key on the GitHub App's settings page and use its .pem file."
        )
    return key


def as_environment_text(value: object) -> str:
    """Show a value the way it would be written in the environment (`false`, not `False`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Settings(BaseSettings):
    """Every variable the controller reads, each documented by its description.

    Build it with `load_settings()`, which merges the environment, the dotenv file and the client file
    and passes the result in explicitly; `Settings()` on its own reads nothing and yields the
    defaults, which keeps tests free of the host's environment.
    """

    model_config = SettingsConfigDict(
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        validate_default=True,
    )
    _origins: dict[str, ValueOrigin] = PrivateAttr(default_factory=dict)
    """Where each given value came from, by field name; filled in by `load_settings`."""
    _client_file: ClientFile | None = PrivateAttr(default=None)

    github_app_id: int | None = Field(
        default=None,
        description=(
            "Numeric ID of the GitHub App the controller authenticates as to read repositories and dispatch "
            "workflows; find it on the app's settings page under General → App ID. Required to start."
        ),
        json_schema_extra={"section": Section.GITHUB_APP},
    )
    github_app_private_key: SecretStr | None = Field(
        default=None,
        description=(
            "RSA private key (PEM) of the GitHub App, used to sign the requests for installation tokens. "
            "Required to start. In a single-line variable write each newline of the .pem file as the two "
            "characters `\\n`, e.g. `-----BEGIN RSA PRIVATE KEY-----\\nMIIE...\\n-----END RSA PRIVATE "
            "KEY-----`; real newlines (a Kubernetes Secret, a quoted multi-line .env value) work too. "
            "Checked at start-up: it must parse as an unencrypted RSA private key."
        ),
        json_schema_extra={"section": Section.GITHUB_APP},
    )

    linear_api_key: SecretStr | None = Field(
        default=None,
        description=(
            "Linear personal API key used to poll for issues and update their status, labels and comments "
            "(Linear → Settings → API → Personal API keys). Required when any mapping uses Linear. The key "
            "must see every team you map: polling filters only by the AI-Implement label, so issues in "
            "teams the key cannot see are never picked up."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )
    linear_workspace_url: str = Field(
        default="https://linear.app",
        description=(
            "User-facing Linear workspace URL, used to render issue links in dispatch logs and comments. When "
            "set (e.g. `https://linear.app/acme`), links read `<LINEAR_WORKSPACE_URL>/issue/ENG-123`; when "
            "unset, the link Linear itself reports for each issue is used."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )
    jira_token: SecretStr | None = Field(
        default=None,
        description=(
            "Atlassian API token (Bearer auth), created under your Atlassian account → Security → API "
            "tokens. Required, with JIRA_CLOUD_ID and JIRA_SITE_URL, when any mapping uses Jira."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )
    jira_cloud_id: str | None = Field(
        default=None,
        description=(
            "Jira Cloud tenant ID: the `cloudId` field of "
            "`https://<your-site>.atlassian.net/_edge/tenant_info`. Required when any mapping uses Jira."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )
    jira_site_url: str | None = Field(
        default=None,
        description=(
            "User-facing Atlassian site URL, e.g. `https://acme.atlassian.net`, used to render issue links "
            "in dispatch logs and comments. Required when any mapping uses Jira."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )

    ai_implement_label: str = Field(
        default="AI-Implement",
        description=(
            "Name of the label that marks a ticket for AI work, on Linear and on Jira. The pollers look for "
            "tickets carrying it; matching is case-insensitive on Linear."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )
    ai_working_label: str = Field(
        default="AI-Working",
        description=(
            "Name of the Linear label that marks a ticket as in progress while a run works on it; created on "
            "the ticket's team when missing."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )
    jira_implementing_status: str = Field(
        default="Implementing",
        description=(
            "Name of the Jira status a ticket is moved to while a run works on it (and moved back from when "
            "the run ends); the workflow must offer a transition to it."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )
    linear_webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Signing secret of the Linear webhook pointed at `https://<orchestrator-host>/api/linear/webhook`. "
            "When unset, that endpoint answers 503 and only polling finds new tickets."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )
    jira_webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Secret of the Jira admin webhook pointed at `https://<orchestrator-host>/api/jira/webhook` "
            "(sent as an X-Hub-Signature HMAC). When unset, that endpoint answers 503 and only polling finds "
            "new tickets."
        ),
        json_schema_extra={"section": Section.TICKETING},
    )

    admin_access_code: SecretStr | None = Field(
        default=None,
        description=(
            "Password for the admin UI at /admin. When unset, the admin UI is disabled entirely and every "
            "/admin and /api/ route answers 404. In production it must be at least 16 characters."
        ),
        json_schema_extra={"section": Section.SERVICE},
    )
    port: int = Field(
        default=8080,
        description="HTTP port the API server listens on, from 1 to 65535.",
        json_schema_extra={"section": Section.SERVICE},
    )
    operator_port: int = Field(
        default=8081,
        description=(
            "HTTP port the operator serves its own /metrics and /healthz on (the API has PORT and METRICS_PORT), "
            "from 1 to 65535; it must differ from both when they run in one pod."
        ),
        json_schema_extra={"section": Section.SERVICE},
    )
    metrics_port: int = Field(
        default=9090,
        description=(
            "HTTP port the API serves /metrics on, apart from PORT so that publishing the API's public paths "
            "never publishes the metrics; from 1 to 65535, different from PORT and OPERATOR_PORT."
        ),
        json_schema_extra={"section": Section.SERVICE},
    )
    leader_lease_seconds: int = Field(
        default=15,
        description=(
            "How long the operator's leadership Lease lasts unrenewed, from 6 to 300 seconds: a replica that "
            "dies is replaced after at most this long. The leader renews every third of it."
        ),
        json_schema_extra={"section": Section.SERVICE},
    )
    poll_interval_ms: int = Field(
        default=60_000,
        description=(
            "How often the controller polls the ticketing providers for new AI-Implement issues, in "
            "milliseconds (a positive whole number). Lower values increase ticketing-API usage; values "
            "below 10000 are accepted with a warning."
        ),
        json_schema_extra={"section": Section.SERVICE},
    )
    dedup_db_path: Path | None = Field(
        default=None,
        description=(
            "Path of the SQLite file that holds the deduplication window, the dispatch log and the rest of "
            "the store. Ignored when DATABASE_URL is set. Change it only if the volume is mounted somewhere "
            "other than /data."
        ),
        json_schema_extra={
            "section": Section.SERVICE,
            "derived_default": "`/data/dedup.sqlite` in production, `./dedup.sqlite` in development",
        },
    )
    github_webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "HMAC-SHA256 secret that validates incoming GitHub webhook payloads. Set it as the GitHub App's "
            "webhook secret, with the App's webhook at `https://<orchestrator-host>/api/github/webhook` "
            "(preferred over repository webhooks, see docs/github.md). When unset, the webhook endpoint "
            "rejects every request. In production it must be at least 16 characters."
        ),
        json_schema_extra={"section": Section.SERVICE},
    )
    ai_implement_env: Environment | None = Field(
        default=None,
        description=(
            "Where the controller runs: `production` or `development` (any letter case). Decides the "
            "DEDUP_DB_PATH default. When unset, production is assumed inside a Kubernetes pod "
            "(KUBERNETES_SERVICE_HOST is set) or on Fly.io (FLY_APP_NAME is set), development otherwise."
        ),
        json_schema_extra={"section": Section.SERVICE, "derived_default": "detected, see the description"},
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        le=10,
        description=(
            "How many reverse proxies (ingress, load balancer) stand in front of the API server. With 1 or "
            "more, the client address used for login throttling and the audit trail is read from "
            "X-Forwarded-For that many hops back; with 0 (the default) the header is ignored, since anyone "
            "could forge it."
        ),
        json_schema_extra={"section": Section.SERVICE},
    )
    kubernetes_service_host: str | None = Field(
        default=None,
        description=(
            "Set by Kubernetes in every pod; do not set it yourself. Only its presence is read: it makes "
            "AI_IMPLEMENT_ENV default to production."
        ),
        json_schema_extra={"section": Section.SERVICE},
    )
    log_level: LogLevel = Field(
        default=LogLevel.INFO,
        description="Lowest severity written to the log: DEBUG, INFO, WARNING or ERROR (any letter case).",
        json_schema_extra={"section": Section.SERVICE},
    )
    custom_dir: Path = Field(
        default=Path("custom"),
        description=(
            "Directory of this installation's customizations: `pipelines/<name>.yml`, `steps/<id>.py` and "
            "`providers/<id>.py` in it override the built-in pipeline, step or agent provider of the same "
            "name, or add new ones. A relative path is read from the working directory (the container image "
            "keeps it at `/app/custom`); a missing directory means the built-ins only. A bad file is "
            "reported, with its fault, by `config check`, GET /api/pipelines-steps and GET /api/customizations."
        ),
        json_schema_extra={"section": Section.SERVICE},
    )

    notify_type: NotifyType = Field(
        default=NotifyType.SLACK,
        description=(
            "Service that receives dispatch success and failure notifications and reaper alerts: `slack` or "
            "`teams` (any letter case). Has no effect unless NOTIFY_WEBHOOK_URL is set."
        ),
        json_schema_extra={"section": Section.NOTIFICATIONS},
    )
    notify_webhook_url: SecretStr | None = Field(
        default=None,
        description=(
            "Incoming-webhook URL of the notification service: for Slack the URL from the Incoming "
            "Webhooks app, for Teams the connector webhook URL. A secret, because its path is the "
            "credential. When unset, notifications are skipped silently."
        ),
        json_schema_extra={"section": Section.NOTIFICATIONS},
    )

    runner_mode: RunnerMode = Field(
        default=RunnerMode.DEFAULT,
        description=(
            "Global override of every mapping's execution mode (any letter case): `default` (each mapping's "
            "own executionMode), `gha` (GitHub Actions for all), `fly` (Fly Machines for all), `local` "
            "(local Docker for all, for development) or `shadow` (dispatch through GitHub Actions and also "
            "boot a shadow Fly Machine, for testing)."
        ),
        json_schema_extra={"section": Section.RUNNER_MODE},
    )
    fly_sessions_app: str | None = Field(
        default=None,
        description=(
            "Fly.io app that hosts the session runner machines. Required when RUNNER_MODE is `fly` or "
            "`shadow`, or when any mapping uses executionMode `fly-machines`."
        ),
        json_schema_extra={"section": Section.RUNNER_MODE},
    )
    fly_sessions_region: str = Field(
        default="iad",
        description="Default Fly.io region for new session machines.",
        json_schema_extra={"section": Section.RUNNER_MODE},
    )
    fly_sessions_token: SecretStr | None = Field(
        default=None,
        description=(
            "Fly API token scoped to the sessions app, used to create and destroy Fly Machines for runs. "
            "Required when RUNNER_MODE is `fly` or `shadow`, or when any mapping uses Fly Machines. Not the "
            "same token as FLY_API_TOKEN, which only CI uses to deploy."
        ),
        json_schema_extra={"section": Section.RUNNER_MODE},
    )
    session_image: str = Field(
        default="ghcr.io/builddownai/ai-implement-runner:latest",
        description=(
            "Default session image of Fly Machine and GitHub Actions runs: an image with the runner "
            "(`ai-implement-runner`), git and the coding agent, built with `make runner-image` (Dockerfile target "
            "`runner`). A mapping's runner.sessionImage, and a repository's `.ai-implement/image.yml`, take "
            "precedence."
        ),
        json_schema_extra={"section": Section.RUNNER_MODE},
    )
    local_runner_image: str | None = Field(
        default=None,
        description=(
            "Container image for local Docker runs (RUNNER_MODE=local, or a mapping with executionMode "
            "`local`), built on the Docker host with `make runner-image` (`ai-implement-runner:dev`). Required for "
            "such runs."
        ),
        json_schema_extra={"section": Section.RUNNER_MODE},
    )
    docker_host: str = Field(
        default="unix:///var/run/docker.sock",
        description=(
            "Docker Engine the local runner mode talks to: `unix:///path/to/docker.sock` or "
            "`tcp://host:port` (plain HTTP; put TLS in front yourself)."
        ),
        json_schema_extra={"section": Section.RUNNER_MODE},
    )
    local_runner_orchestrator_url: str | None = Field(
        default=None,
        description=(
            "Base URL a local Docker runner uses to reach the controller: typically "
            "`http://host.docker.internal:8080` on macOS and Windows, or the host's IP address on Linux."
        ),
        json_schema_extra={"section": Section.RUNNER_MODE},
    )

    runner_callback_base_url: str | None = Field(
        default=None,
        description=(
            "Public base URL runners call back to, e.g. `https://ai-implement.example.com`. Required for "
            "every run (GitHub Actions, Fly Machines, local Docker): without it no run can start. In "
            "production it must be https (plain http only on loopback)."
        ),
        json_schema_extra={"section": Section.RUNNER_CALLBACKS},
    )
    runner_token_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Secret that signs and verifies the short-lived runner-callback tokens. Required when "
            "RUNNER_CALLBACK_BASE_URL is set; without it /runner/progress and /runner/result answer 501. "
            "Use a long random string, e.g. the output of `openssl rand -hex 32` (in production at least "
            "16 characters)."
        ),
        json_schema_extra={"section": Section.RUNNER_CALLBACKS},
    )
    runner_progress_timeout_minutes: int = Field(
        default=20,
        description=(
            "Minutes a running run may go without a progress callback before it is treated as stalled: "
            "it ends as TimedOut, its session is destroyed and the ticket gets a comment, as when "
            "maxJobMinutes runs out. A positive whole number."
        ),
        json_schema_extra={"section": Section.RUNNER_CALLBACKS},
    )
    runner_stop_grace_seconds: int = Field(
        default=60,
        description=(
            "Seconds the controller waits, after it ended a run itself (timed out, or its session destroyed "
            "from the Sessions panel or by the reaper), for the runner to report the work in progress it saved "
            "to ai-implement/wip/<dispatch> before it comments on the ticket; a result that arrives sooner ends "
            "the wait. 0 comments at once. A whole number from 0 to 600."
        ),
        json_schema_extra={"section": Section.RUNNER_CALLBACKS},
    )
    github_oidc_issuer: str = Field(
        default="https://token.actions.githubusercontent.com",
        description=(
            "Issuer of the OIDC tokens GitHub Actions runs present to POST /runner/credentials to obtain "
            "their callback tokens. Change it only for GitHub Enterprise Server or a sandbox; in production "
            "it must be https."
        ),
        json_schema_extra={"section": Section.RUNNER_CALLBACKS},
    )
    fly_oidc_issuer: str | None = Field(
        default=None,
        description=(
            "Issuer of the OIDC tokens Fly Machines present to POST /runner/credentials: "
            "`https://oidc.fly.io/<your Fly organization slug>`. Required for Fly Machine runs; in "
            "production it must be https."
        ),
        json_schema_extra={"section": Section.RUNNER_CALLBACKS},
    )
    gap_fill_trigger_secret: SecretStr | None = Field(
        default=None,
        description=(
            "The controller's key for POST /trigger/gap-fill, which the synced comment-trigger.yml workflow "
            "calls when someone comments /ai-implement on a pull request. Each repository gets its own "
            "secret derived from it (`ai-implement gap-fill-secret OWNER/REPO` prints it; store it as that "
            "repository's GAP_FILL_TRIGGER_SECRET), so one repository's secret opens no other. When unset, "
            "the endpoint is disabled. In production it must be at least 16 characters."
        ),
        json_schema_extra={"section": Section.RUNNER_CALLBACKS},
    )
    gap_fill_max_runs: int = Field(
        default=5,
        description=(
            "Gap-fill runs allowed per pull request; further /ai-implement comments on it are refused. "
            "A whole number from 1 to 100."
        ),
        json_schema_extra={"section": Section.RUNNER_CALLBACKS},
    )

    reaper_dry_run: bool = Field(
        default=False,
        description=(
            "When true, the reaper logs what it would destroy but destroys nothing; use it to check the "
            "rules before enabling live clean-up. Accepts true/false, 1/0 or yes/no."
        ),
        json_schema_extra={"section": Section.REAPER},
    )
    reaper_interval_seconds: int = Field(
        default=300,
        description=(
            "Seconds between two reaper sweeps over every runner backend (Fly Machines, GitHub Actions runs, "
            "local containers). A whole number from 10 to 86400."
        ),
        json_schema_extra={"section": Section.REAPER},
    )
    reaper_grace_minutes: int = Field(
        default=10,
        description=(
            "Minutes the reaper waits before it destroys a machine nobody owns (orphan), a machine whose "
            "Dispatch has ended (stale-terminal-job), or one past its mapping's maxJobMinutes "
            "(max-age-exceeded): room for a run that is just starting or just ending. A positive whole number."
        ),
        json_schema_extra={"section": Section.REAPER},
    )
    reaper_alert_threshold: int | None = Field(
        default=None,
        description=(
            "Number of destructions within 24 hours above which the reaper sends an alert through the "
            "notification service, to catch runaway destruction. A positive whole number; unset means no "
            "alert."
        ),
        json_schema_extra={"section": Section.REAPER},
    )

    client_slug: str | None = Field(
        default=None,
        description=(
            "Client identifier of this instance when many clients are deployed from one repository, e.g. "
            "`acme`: 1 to 63 lower-case letters, digits and -. `<CLIENTS_DIR>/<slug>.toml`, when it exists, "
            "holds the client's non-secret settings, read under the environment and the .env file. Every "
            "log line carries it as `client` and every notification names it, to tell deployments apart."
        ),
        json_schema_extra={"section": Section.MULTI_TENANT},
    )
    fly_app_name: str | None = Field(
        default=None,
        description=(
            "Fly.io app name of this instance, read for logging only (Fly sets it automatically): every "
            "log line carries it as `flyApp`. Its presence also makes AI_IMPLEMENT_ENV default to production."
        ),
        json_schema_extra={"section": Section.MULTI_TENANT},
    )
    clients_dir: Path = Field(
        default=Path("clients"),
        description=(
            "Directory of the client files, `<CLIENT_SLUG>.toml` each. A relative path is read from the "
            "working directory (the container image keeps it at `/app/clients`). Set it in the environment "
            "or the .env file: like CLIENT_SLUG, it cannot be set in a client file."
        ),
        json_schema_extra={"section": Section.MULTI_TENANT},
    )

    anthropic_api_key: SecretStr | None = Field(
        default=None,
        description=(
            "Anthropic API key, forwarded to Fly Machine and local Docker runners as the Claude fallback. "
            "Required for such runs of Anthropic mappings when CLAUDE_CODE_OAUTH_TOKEN is unset. GitHub "
            "Actions runs use the target repository's own secrets instead."
        ),
        json_schema_extra={"section": Section.RUNNER_CREDENTIALS},
    )
    claude_code_oauth_token: SecretStr | None = Field(
        default=None,
        description=(
            "Claude Code OAuth token, forwarded to Fly Machine and local Docker runners; preferred over "
            "ANTHROPIC_API_KEY when both are set."
        ),
        json_schema_extra={"section": Section.RUNNER_CREDENTIALS},
    )

    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "PostgreSQL URL of the store, e.g. `postgresql://USER:PASSWORD@HOST:5432/ai_implement` "
            "(`postgres://` and `postgresql+asyncpg://` are accepted too; the asyncpg driver is used). Use "
            "it in production and whenever more "
            "than one replica runs. When unset, the store is SQLite at DEDUP_DB_PATH. A secret, because it "
            "usually holds a password."
        ),
        json_schema_extra={"section": Section.STORE},
    )

    ai_implement_namespace: str | None = Field(
        default=None,
        description=(
            "Kubernetes namespace of the ProjectMapping, Dispatch and RunnerSession resources (and of the "
            "Secret `ai-implement-runner-secrets` that holds runner secrets). Defaults to the pod's own "
            "namespace inside a cluster, and to `default` outside one."
        ),
        json_schema_extra={
            "section": Section.SERVICE,
            "derived_default": "the pod's namespace, else `default`",
        },
    )

    secrets_backend: SecretsBackend = Field(
        default=SecretsBackend.AUTO,
        description=(
            "Where the secrets managed under /api/global-secrets and /api/mappings/:teamKey/secrets live: "
            "`kubernetes` (the Secret `ai-implement-runner-secrets` in AI_IMPLEMENT_NAMESPACE), or `auto`, "
            "which is the same. `fly` is refused: Fly gives every app secret to every machine of the app, so "
            "each run would see every team's secrets; runs on Fly Machines get their team's secrets from the "
            "controller instead."
        ),
        json_schema_extra={"section": Section.SECRETS},
    )

    linear_api_url: str = Field(
        default="https://api.linear.app/graphql",
        description="Linear's GraphQL endpoint. Change it only to point at a sandbox or a proxy.",
        json_schema_extra={"section": Section.ENDPOINTS},
    )
    jira_api_base_url: str = Field(
        default="https://api.atlassian.com",
        description=(
            "Base URL of the Atlassian cloud-ID gateway (`/ex/jira/{JIRA_CLOUD_ID}` is appended). Change it "
            "only to point at a sandbox or a proxy."
        ),
        json_schema_extra={"section": Section.ENDPOINTS},
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        description=(
            "Base URL of the GitHub REST API. Change it only for GitHub Enterprise Server, a sandbox or a proxy."
        ),
        json_schema_extra={"section": Section.ENDPOINTS},
    )
    fly_api_base_url: str = Field(
        default="https://api.machines.dev",
        description="Base URL of the Fly Machines API. Change it only to point at a sandbox or a proxy.",
        json_schema_extra={"section": Section.ENDPOINTS},
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read only the values given explicitly: `load_settings` merges the layers and keeps their origins."""
        return (init_settings,)

    @field_validator("github_app_id", mode="before")
    @classmethod
    def _github_app_id_is_numeric(cls, value: object) -> int | None:
        if value is None:
            return None
        expected = "use the numeric App ID from the GitHub App's settings page (General → App ID), e.g. 123456"
        return _parse_integer("GITHUB_APP_ID", value, minimum=1, maximum=None, expected=expected)

    @field_validator("github_app_private_key", mode="before")
    @classmethod
    def _github_app_private_key_is_rsa_pem(cls, value: object) -> str | None:
        """Turn the two-character `\\n` sequences back into newlines, then prove the key parses."""
        if value is None:
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        pem = text.strip().replace("\\n", "\n")
        _load_rsa_private_key(pem)
        return pem

    @field_validator("port", mode="before")
    @classmethod
    def _port_is_in_range(cls, value: object) -> int:
        expected = "use a port number from 1 to 65535 (the default is 8080)"
        return _parse_integer("PORT", value, minimum=1, maximum=65535, expected=expected)

    @field_validator("operator_port", mode="before")
    @classmethod
    def _operator_port_is_in_range(cls, value: object) -> int:
        expected = "use a port number from 1 to 65535 (the default is 8081)"
        return _parse_integer("OPERATOR_PORT", value, minimum=1, maximum=65535, expected=expected)

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _metrics_port_is_in_range(cls, value: object) -> int:
        expected = "use a port number from 1 to 65535 (the default is 9090)"
        return _parse_integer("METRICS_PORT", value, minimum=1, maximum=65535, expected=expected)

    @field_validator("leader_lease_seconds", mode="before")
    @classmethod
    def _lease_is_in_range(cls, value: object) -> int:
        expected = "use a number of seconds from 6 to 300 (the default is 15)"
        return _parse_integer("LEADER_LEASE_SECONDS", value, minimum=6, maximum=300, expected=expected)

    @field_validator("poll_interval_ms", mode="before")
    @classmethod
    def _poll_interval_is_positive(cls, value: object) -> int:
        expected = "give the interval in milliseconds as a positive whole number, e.g. 60000 (the default)"
        return _parse_integer("POLL_INTERVAL_MS", value, minimum=1, maximum=None, expected=expected)

    @field_validator("runner_progress_timeout_minutes", mode="before")
    @classmethod
    def _progress_timeout_is_positive(cls, value: object) -> int:
        expected = "give the minutes as a positive whole number, e.g. 20 (the default)"
        return _parse_integer("RUNNER_PROGRESS_TIMEOUT_MINUTES", value, minimum=1, maximum=None, expected=expected)

    @field_validator("runner_stop_grace_seconds", mode="before")
    @classmethod
    def _stop_grace_is_bounded(cls, value: object) -> int:
        expected = "give the seconds as a whole number from 0 to 600, e.g. 60 (the default)"
        return _parse_integer("RUNNER_STOP_GRACE_SECONDS", value, minimum=0, maximum=600, expected=expected)

    @field_validator("gap_fill_max_runs", mode="before")
    @classmethod
    def _gap_fill_runs_are_bounded(cls, value: object) -> int:
        expected = "give the runs as a whole number from 1 to 100, e.g. 5 (the default)"
        return _parse_integer("GAP_FILL_MAX_RUNS", value, minimum=1, maximum=100, expected=expected)

    @field_validator("docker_host", mode="before")
    @classmethod
    def _docker_host_is_reachable_form(cls, value: object) -> str:
        text = str(value).strip()
        if not (text.startswith(("unix:///", "tcp://")) or _is_http_url(text)):
            raise _invalid(
                f"DOCKER_HOST={text!r} is not a Docker Engine address: use unix:///var/run/docker.sock "
                "(the default) or tcp://HOST:PORT."
            )
        return text

    @field_validator("reaper_interval_seconds", mode="before")
    @classmethod
    def _reaper_interval_is_sane(cls, value: object) -> int:
        expected = "give the seconds between sweeps as a whole number from 10 to 86400, e.g. 300 (the default)"
        return _parse_integer("REAPER_INTERVAL_SECONDS", value, minimum=10, maximum=86400, expected=expected)

    @field_validator("reaper_grace_minutes", mode="before")
    @classmethod
    def _reaper_grace_is_positive(cls, value: object) -> int:
        expected = "give the minutes as a positive whole number, e.g. 10 (the default)"
        return _parse_integer("REAPER_GRACE_MINUTES", value, minimum=1, maximum=None, expected=expected)

    @field_validator("reaper_alert_threshold", mode="before")
    @classmethod
    def _alert_threshold_is_positive(cls, value: object) -> int | None:
        if value is None:
            return None
        expected = "give a positive whole number of destructions per 24 hours, or leave it unset for no alert"
        return _parse_integer("REAPER_ALERT_THRESHOLD", value, minimum=1, maximum=None, expected=expected)

    @field_validator("reaper_dry_run", mode="before")
    @classmethod
    def _dry_run_is_boolean(cls, value: object) -> bool:
        text = str(value).strip()
        if text.casefold() in _TRUE_WORDS:
            return True
        if text.casefold() in _FALSE_WORDS:
            return False
        raise _invalid(f"REAPER_DRY_RUN={text!r} is not a boolean: use true or false (also 1/0, yes/no).")

    @field_validator("ai_implement_env", mode="before")
    @classmethod
    def _environment_is_known(cls, value: object) -> Environment | None:
        return None if value is None else _parse_choice("AI_IMPLEMENT_ENV", value, Environment)

    @field_validator("client_slug", mode="before")
    @classmethod
    def _client_slug_is_a_slug(cls, value: object) -> str | None:
        """A slug names a file, so nothing that could climb out of CLIENTS_DIR (`../x`) gets through."""
        if value is None:
            return None
        text = str(value).strip()
        if not is_client_slug(text):
            raise _invalid(f"CLIENT_SLUG={text!r} is not a client slug: {CLIENT_SLUG_RULE}.")
        return text

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_is_known(cls, value: object) -> LogLevel:
        return _parse_choice("LOG_LEVEL", value, LogLevel)

    @field_validator("notify_type", mode="before")
    @classmethod
    def _notify_type_is_known(cls, value: object) -> NotifyType:
        return _parse_choice("NOTIFY_TYPE", value, NotifyType)

    @field_validator("ai_implement_namespace", mode="before")
    @classmethod
    def _namespace_is_a_dns_label(cls, value: object) -> str | None:
        if value is None:
            return None
        text = str(value).strip()
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", text):
            raise _invalid(
                f"AI_IMPLEMENT_NAMESPACE={text!r} is not a Kubernetes namespace name: use at most 63 "
                "lower-case letters, digits and -, first and last a letter or digit, e.g. ai-implement."
            )
        return text

    @field_validator("secrets_backend", mode="before")
    @classmethod
    def _secrets_backend_is_known(cls, value: object) -> SecretsBackend:
        return _parse_choice("SECRETS_BACKEND", value, SecretsBackend)

    @field_validator("secrets_backend", mode="after")
    @classmethod
    def _no_shared_fly_secrets(cls, value: SecretsBackend) -> SecretsBackend:
        if value is SecretsBackend.FLY:
            raise _invalid(
                "SECRETS_BACKEND=fly is refused: Fly gives every app secret to every machine of the app, so each "
                "run would see every team's secrets. Use SECRETS_BACKEND=kubernetes (or auto); runs on Fly "
                "Machines get their own team's secrets from the controller. Unset the runner secrets kept in the "
                "Fly app (`fly secrets unset`) once they are set again here."
            )
        return value

    @field_validator("runner_mode", mode="before")
    @classmethod
    def _runner_mode_is_known(cls, value: object) -> RunnerMode:
        return _parse_choice("RUNNER_MODE", value, RunnerMode)

    @field_validator(*_URL_EXAMPLES, mode="before")
    @classmethod
    def _base_url_is_http(cls, value: object, info: ValidationInfo) -> str | None:
        """Drop a trailing slash so that callers can append paths without doubling it."""
        if value is None:
            return None
        text = str(value).strip()
        if not _is_http_url(text):
            field_name = str(info.field_name)
            raise _invalid(
                f"{field_name.upper()}={text!r} is not an http(s) URL: give the full URL including the "
                f"scheme, e.g. {_URL_EXAMPLES[field_name]}."
            )
        return text.rstrip("/")

    @field_validator("notify_webhook_url", mode="after")
    @classmethod
    def _notify_webhook_url_is_http(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _is_http_url(value.get_secret_value().strip()):
            raise _invalid(
                "NOTIFY_WEBHOOK_URL is not an http(s) URL (value not shown: its path is a credential): use "
                "the full incoming-webhook URL, e.g. https://hooks.slack.com/services/..."
            )
        return value

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url_is_postgresql(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            scheme = urlsplit(value.get_secret_value().strip()).scheme
        except ValueError:
            scheme = ""
        if scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
            raise _invalid(
                "DATABASE_URL is not a PostgreSQL URL the controller can use (value not shown: it may hold a "
                "password): use postgresql://USER:PASSWORD@HOST:5432/DATABASE (the asyncpg driver is used; "
                "postgresql+asyncpg:// is accepted too), or unset it to keep the store in SQLite at "
                "DEDUP_DB_PATH."
            )
        return value

    # The two validators below read other fields from `info.data`, which holds only the fields declared
    # above the one being validated: RUNNER_CALLBACK_BASE_URL and RUNNER_MODE must stay declared first.
    # A field that failed its own validation is absent there, so its dependants stay quiet about it.

    @field_validator("runner_token_secret", mode="after")
    @classmethod
    def _token_secret_set_when_callbacks_enabled(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None and info.data.get("runner_callback_base_url") is not None:
            raise _invalid(
                "RUNNER_TOKEN_SECRET is not set but RUNNER_CALLBACK_BASE_URL is: runners could not "
                "authenticate their callbacks. Set RUNNER_TOKEN_SECRET to a long random string, e.g. the "
                "output of `openssl rand -hex 32`."
            )
        return value

    @field_validator(*_FLY_CREDENTIAL_HINTS, mode="after")
    @classmethod
    def _fly_credentials_set_when_runner_mode_uses_fly(cls, value: object, info: ValidationInfo) -> object:
        runner_mode = info.data.get("runner_mode")
        if value is None and runner_mode in {RunnerMode.FLY, RunnerMode.SHADOW}:
            field_name = str(info.field_name)
            raise _invalid(
                f"{field_name.upper()} is not set but RUNNER_MODE={runner_mode}, which boots Fly Machines: "
                f"set it to {_FLY_CREDENTIAL_HINTS[field_name]}, or choose another RUNNER_MODE."
            )
        return value

    @property
    def environment(self) -> Environment:
        """Production or development, as set or as detected from the platform."""
        return self._environment_and_reason()[0]

    @property
    def environment_reason(self) -> str:
        """Why `environment` has its value, for `config check` to show next to it."""
        return self._environment_and_reason()[1]

    def _environment_and_reason(self) -> tuple[Environment, str]:
        if self.ai_implement_env is not None:
            return self.ai_implement_env, "AI_IMPLEMENT_ENV is set"
        if self.kubernetes_service_host is not None:
            return Environment.PRODUCTION, "detected: KUBERNETES_SERVICE_HOST is set"
        if self.fly_app_name is not None:
            return Environment.PRODUCTION, "detected: FLY_APP_NAME is set"
        return Environment.DEVELOPMENT, "detected: neither KUBERNETES_SERVICE_HOST nor FLY_APP_NAME is set"

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def effective_dedup_db_path(self) -> Path:
        """The SQLite file in use: DEDUP_DB_PATH when set, else the default for the environment."""
        return self.dedup_db_path or DEFAULT_DEDUP_DB_PATHS[self.environment]

    @property
    def poll_interval(self) -> timedelta:
        return timedelta(milliseconds=self.poll_interval_ms)

    @property
    def github_app_configured(self) -> bool:
        return self.github_app_id is not None and self.github_app_private_key is not None

    @property
    def linear_configured(self) -> bool:
        return self.linear_api_key is not None

    @property
    def jira_configured(self) -> bool:
        return not self.unset_jira_variables

    @property
    def unset_jira_variables(self) -> list[str]:
        return [variable for variable in JIRA_VARIABLES if not self.is_set(variable)]

    @property
    def partial_jira_problems(self) -> list[ConfigProblem]:
        """One problem per missing Jira variable when some, but not all three, are set.

        Jira works only with all three, so a partial set is always a mistake; whether it blocks start-up
        depends on whether another provider is configured, which the caller decides.
        """
        missing = self.unset_jira_variables
        if len(missing) in {0, len(JIRA_VARIABLES)}:
            return []
        present = [variable for variable in JIRA_VARIABLES if variable not in missing]
        verb = "is" if len(present) == 1 else "are"
        return [
            ConfigProblem(
                variable,
                f"{variable} is not set but {' and '.join(present)} {verb}: Jira works only when "
                "JIRA_TOKEN, JIRA_CLOUD_ID and JIRA_SITE_URL are all set; set the missing ones, or unset "
                "all three if you do not use Jira.",
            )
            for variable in missing
        ]

    @property
    def warnings(self) -> list[ConfigProblem]:
        """Values that are valid but probably not what the operator meant; logged and shown, never fatal."""
        found: list[ConfigProblem] = []
        if self.poll_interval_ms < RECOMMENDED_MINIMUM_POLL_INTERVAL_MS:
            found.append(
                ConfigProblem(
                    "POLL_INTERVAL_MS",
                    f"POLL_INTERVAL_MS={self.poll_interval_ms} polls more often than every 10 seconds, which "
                    "raises ticketing-API usage and the risk of rate limiting: 10000 or more is recommended "
                    "(the default is 60000).",
                )
            )
        if self.notify_webhook_url is None and "notify_type" in self.model_fields_set:
            found.append(
                ConfigProblem(
                    "NOTIFY_TYPE",
                    f"NOTIFY_TYPE={self.notify_type} has no effect: NOTIFY_WEBHOOK_URL is not set, so no "
                    "notification is sent.",
                )
            )
        if self.notify_webhook_url is None and self.reaper_alert_threshold is not None:
            found.append(
                ConfigProblem(
                    "REAPER_ALERT_THRESHOLD",
                    f"REAPER_ALERT_THRESHOLD={self.reaper_alert_threshold} has no effect: NOTIFY_WEBHOOK_URL "
                    "is not set, so reaper alerts cannot be sent.",
                )
            )
        if self.linear_configured:
            found += self.partial_jira_problems
        return found

    def explicitly_set(self, variable: str) -> bool:
        """Whether the variable was given (environment, .env or client file), rather than left at its default."""
        return variable.lower() in self.model_fields_set

    def origin_of(self, variable: str) -> ValueOrigin | None:
        """Where the variable's value came from, by its environment name; None when it was not set.

        Settings built directly rather than by `load_settings` count what they were given as the
        environment.
        """
        field_name = variable.lower()
        if field_name not in self.model_fields_set:
            return None
        return self._origins.get(field_name, ValueOrigin(ValueSource.ENVIRONMENT))

    @property
    def client_file(self) -> ClientFile | None:
        """The client file CLIENT_SLUG names, found or not; None without CLIENT_SLUG."""
        return self._client_file

    def is_set(self, variable: str) -> bool:
        """Whether the variable has a value, by its environment name (`is_set("JIRA_TOKEN")`)."""
        return getattr(self, variable.lower()) is not None

    def github_app_signing_key(self) -> rsa.RSAPrivateKey | None:
        """The parsed GitHub App key, for signing App JWTs; validation has already proved it parses."""
        if self.github_app_private_key is None:
            return None
        return _load_rsa_private_key(self.github_app_private_key.get_secret_value())


@dataclass(frozen=True)
class SettingDescription:
    """What the documentation and `config check` need to know about one variable."""

    variable: str
    field_name: str
    section: Section
    secret: bool
    default: object
    derived_default: str | None
    description: str


def describe_settings() -> list[SettingDescription]:
    """Every variable in declaration order, read from the fields so that documentation cannot drift."""
    described = []
    for field_name, field in Settings.model_fields.items():
        extra = field.json_schema_extra
        if not isinstance(extra, dict) or field.description is None:
            raise TypeError(f"Settings.{field_name} needs a description and a section in json_schema_extra")
        derived_default = extra.get("derived_default")
        described.append(
            SettingDescription(
                variable=field_name.upper(),
                field_name=field_name,
                section=Section(str(extra["section"])),
                secret=is_secret(field),
                default=field.default,
                derived_default=None if derived_default is None else str(derived_default),
                description=field.description,
            )
        )
    return described


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
    """Read the settings from `environ` (default: the process environment) over the dotenv file, over
    the client file `<CLIENTS_DIR>/<CLIENT_SLUG>.toml`, over the defaults.

    Variable names match in any letter case, empty values count as unset, unknown variables are
    ignored, and a missing dotenv or client file is no error. Raises `ConfigurationError` listing every
    bad variable, and every fault of the client file; a value from a file is reported with the file's
    name. Pydantic's own error text is dropped because it quotes the input, secrets included.
    """
    layers = read_layers(Settings, os.environ if environ is None else environ, env_file)
    try:
        settings = Settings(**layers.values)
    except ValidationError as error:
        raise ConfigurationError([*layers.problems, *_problems_from(error, layers.origins)]) from None
    if layers.problems:
        raise ConfigurationError(layers.problems)
    settings._origins = layers.origins
    settings._client_file = layers.client_file
    return settings


def _problems_from(error: ValidationError, origins: Mapping[str, ValueOrigin]) -> list[ConfigProblem]:
    problems = []
    for detail in error.errors(include_url=False, include_context=False, include_input=False):
        field_name = str(detail["loc"][0])
        variable = field_name.upper()
        message = detail["msg"] if detail["type"] == _INVALID_SETTING else f"{variable} is not valid: {detail['msg']}."
        origin = origins.get(field_name)
        if origin is not None and origin.path is not None:
            message = f"{origin.path}: {message}"
        problems.append(ConfigProblem(variable, message))
    return problems
