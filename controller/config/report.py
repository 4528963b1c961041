"""What `ai-implement config check` shows: the effective configuration, secrets redacted, and its problems."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from controller.config.problems import ConfigProblem, ConfigurationError
from controller.config.settings import Section, Settings, as_environment_text, describe_settings
from controller.config.sources import ValueOrigin, ValueSource

SET: Final = "<set>"
UNSET: Final = "<unset>"


@dataclass(frozen=True)
class ConfigEntry:
    """One variable as the running controller sees it; `value` is `<set>`/`<unset>` for a secret."""

    variable: str
    section: Section
    value: str
    source: ValueSource
    secret: bool
    path: Path | None = None
    """The file the value came from: the dotenv file or the client file."""

    @property
    def origin(self) -> str:
        """The source column: `environment`, `.env file (.env)`, `clients/acme.toml`, `default`, `derived`."""
        return str(ValueOrigin(self.source, self.path))


def effective_configuration(settings: Settings) -> list[ConfigEntry]:
    """Every variable with the value in effect, so operators see defaults and derivations, never secrets."""
    derived_values = {
        "ai_implement_env": settings.environment,
        "dedup_db_path": settings.effective_dedup_db_path,
    }
    entries = []
    for described in describe_settings():
        value = getattr(settings, described.field_name)
        origin = settings.origin_of(described.variable)
        if origin is None and described.field_name in derived_values:
            origin = ValueOrigin(ValueSource.DERIVED)
            value = derived_values[described.field_name]
        elif origin is None:
            origin = ValueOrigin(ValueSource.DEFAULT)
        if described.secret:
            shown = UNSET if value is None else SET
        else:
            shown = UNSET if value is None else as_environment_text(value)
        entries.append(
            ConfigEntry(described.variable, described.section, shown, origin.source, described.secret, origin.path)
        )
    return entries


def operational_problems(settings: Settings) -> list[ConfigProblem]:
    """What keeps the orchestrator from starting: the GitHub App and at least one ticketing provider.

    Variables that only some mappings need are not checked here; see `missing_for_mapping`.
    """
    problems = [
        ConfigProblem(
            variable,
            f"{variable} is not set: the controller acts on GitHub as the GitHub App and needs both "
            "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY to start; take them from the app's settings page.",
        )
        for variable in ("GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY")
        if not settings.is_set(variable)
    ]
    if settings.linear_configured or settings.jira_configured:
        return problems
    partial_jira = settings.partial_jira_problems
    if partial_jira:
        return problems + partial_jira
    return [
        *problems,
        ConfigProblem(
            "LINEAR_API_KEY",
            "LINEAR_API_KEY is not set, and neither are JIRA_TOKEN, JIRA_CLOUD_ID and JIRA_SITE_URL: the "
            "controller needs at least one ticketing provider to start; set LINEAR_API_KEY for Linear, or "
            "all three JIRA_* variables for Jira.",
        ),
    ]


MIN_SECRET_CHARS: Final = 16
SHARED_SECRETS: Final = ("ADMIN_ACCESS_CODE", "RUNNER_TOKEN_SECRET", "GITHUB_WEBHOOK_SECRET", "GAP_FILL_TRIGGER_SECRET")
"""Secrets an outsider can try to guess at an endpoint: in production each is long enough not to be."""
TRUSTED_URLS: Final = ("RUNNER_CALLBACK_BASE_URL", "GITHUB_OIDC_ISSUER", "FLY_OIDC_ISSUER")
"""Where runs send their tokens and results, and whose keys prove a run's identity: https in production."""
_LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "::1", "[::1]")


def production_problems(settings: Settings) -> list[ConfigProblem]:
    """What a production deployment refuses to start with: short shared secrets, plain-http trust anchors.

    In development (`make dev`, tests) anything goes; the processes that serve (`api`, `operator`)
    refuse these in production, and `config check` lists them as errors.
    """
    if not settings.is_production:
        return []
    problems = []
    for variable in SHARED_SECRETS:
        value = getattr(settings, variable.lower())
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            problems.append(
                ConfigProblem(
                    variable,
                    f"{variable} is shorter than {MIN_SECRET_CHARS} characters: in production it must not be "
                    "guessable; generate one with `openssl rand -hex 32`.",
                )
            )
    for variable in TRUSTED_URLS:
        value = getattr(settings, variable.lower())
        if value is None or not value.startswith("http://"):
            continue
        host = urlsplit(value).hostname or ""
        if host not in _LOOPBACK_HOSTS and not host.startswith("127."):
            problems.append(
                ConfigProblem(
                    variable,
                    f"{variable} is plain http ({value}): in production runs send their tokens there, or the "
                    "controller trusts the keys it serves, so it must be https (http is allowed on loopback only).",
                )
            )
    return problems


def render_config_check(
    outcome: Settings | ConfigurationError, *, more_errors: Sequence[ConfigProblem] = ()
) -> tuple[str, int]:
    """The text and exit code of `ai-implement config check`: 0 when it can start (warnings allowed), else 1.

    Takes the outcome of `load_settings()`, so the caller only has to catch `ConfigurationError` and
    pass it on, and problems found outside the settings (no usable kubeconfig). Each problem gets a
    line of its own.
    """
    if isinstance(outcome, ConfigurationError):
        problems = [*outcome.problems, *more_errors]
        lines = ["AI-Implement configuration is invalid.", "", *_problem_lines("error", problems)]
        return _with_verdict(lines, errors=len(problems), warnings=0), 1
    errors = [*operational_problems(outcome), *production_problems(outcome), *more_errors]
    warnings = outcome.warnings
    lines = [f"AI-Implement configuration ({outcome.environment}, {outcome.environment_reason})"]
    lines += [*_client_file_lines(outcome), ""]
    lines += _table_lines(effective_configuration(outcome))
    if errors or warnings:
        lines += ["", *_problem_lines("error", errors), *_problem_lines("warning", warnings)]
    return _with_verdict(lines, errors=len(errors), warnings=len(warnings)), 1 if errors else 0


def _client_file_lines(settings: Settings) -> list[str]:
    """Which client file applies, so that a CLIENT_SLUG naming no file (a typo?) is seen at a glance."""
    client_file = settings.client_file
    if client_file is None:
        return []
    if client_file.found:
        return [f"Client {client_file.slug}: settings read from {client_file.path}"]
    return [
        f"Client {client_file.slug}: no client file at {client_file.path}, so only the environment, the .env "
        "file and the defaults apply"
    ]


def _table_lines(entries: list[ConfigEntry]) -> list[str]:
    variable_width = max(len(entry.variable) for entry in entries)
    value_width = max(len(entry.value) for entry in entries)
    lines = []
    for section in Section:
        in_section = [entry for entry in entries if entry.section is section]
        lines.append(f"{section}:")
        lines += [
            f"  {entry.variable:<{variable_width}}  {entry.value:<{value_width}}  {entry.origin}"
            for entry in in_section
        ]
    return lines


def _problem_lines(severity: str, problems: list[ConfigProblem]) -> list[str]:
    return [f"{severity + ':':<8} {problem.message}" for problem in problems]


def _with_verdict(lines: list[str], *, errors: int, warnings: int) -> str:
    counts = f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"
    verdict = "Configuration is invalid" if errors else "Configuration is valid"
    return "\n".join([*lines, "", f"{verdict} ({counts})."]) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
