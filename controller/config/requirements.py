"""Which variables one project mapping needs, decided purely from the settings and the mapping's choices.

The start-up check (`operational_problems`) cannot know these: they depend on the ticketing provider,
execution mode and model provider a mapping picks, and on the global RUNNER_MODE.
"""

from collections.abc import Iterator
from typing import Final

from controller.config.problems import ConfigProblem
from controller.config.settings import JIRA_VARIABLES, RunnerMode, Settings

TICKETING_PROVIDERS: Final = ("linear", "jira")
EXECUTION_MODES: Final = ("github-actions", "fly-machines", "local")
MODEL_PROVIDERS: Final = ("anthropic", "bedrock")

_FORCED_EXECUTION_MODES: Final = {
    RunnerMode.GHA: "github-actions",
    RunnerMode.SHADOW: "github-actions",
    RunnerMode.FLY: "fly-machines",
    RunnerMode.LOCAL: "local",
}
_RUNS_ON: Final = {"fly-machines": "on Fly Machines", "local": "in local Docker"}
"""Execution modes whose runners the controller starts itself, and so must equip with model credentials."""
_RUNS_ON_TEXT: Final = {**_RUNS_ON, "github-actions": "on GitHub Actions"}


def effective_execution_mode(runner_mode: RunnerMode, execution_mode: str, model_provider: str = "anthropic") -> str:
    """Where a mapping's runs really execute: RUNNER_MODE wins over the mapping unless it is `default`,
    or unless it would send a Bedrock mapping to Fly Machines, where its runs get no AWS credentials:
    such a mapping keeps its own mode (`bedrock_kept_off_fly` says so).

    `shadow` dispatches through GitHub Actions; the Fly credentials its extra machine needs are
    already required when the settings load, so no mapping has to ask for them.
    """
    forced = _FORCED_EXECUTION_MODES.get(runner_mode, execution_mode)
    if forced == "fly-machines" and model_provider == "bedrock":
        return execution_mode if execution_mode != "fly-machines" else "github-actions"
    return forced


def bedrock_kept_off_fly(runner_mode: RunnerMode, execution_mode: str, model_provider: str) -> str | None:
    """Why a Bedrock mapping does not go where the runner mode sends every mapping, or None (pure)."""
    if model_provider != "bedrock" or runner_mode not in (RunnerMode.FLY, RunnerMode.SHADOW):
        return None
    kept = effective_execution_mode(runner_mode, execution_mode, model_provider)
    where = "Fly Machines" if runner_mode is RunnerMode.FLY else "a shadow Fly machine"
    return (
        f"the runner mode {runner_mode} would run it on {where}, but Bedrock cannot run on Fly Machines "
        f"(no AWS credentials there): its runs go to {kept}"
    )


def missing_for_mapping(
    settings: Settings,
    *,
    ticketing_provider: str,
    execution_mode: str,
    model_provider: str,
    runner_mode: RunnerMode | None = None,
) -> list[ConfigProblem]:
    """Every variable this mapping needs that is unset, each with the reason it is needed.

    `runner_mode` is the mode in force (RUNNER_MODE, else the one stored through the admin API);
    it defaults to RUNNER_MODE.
    """
    mode = runner_mode or settings.runner_mode
    mode_name = f"RUNNER_MODE={mode}" if runner_mode is None else f"the runner mode {mode}"
    _require_known("ticketing_provider", ticketing_provider, TICKETING_PROVIDERS)
    _require_known("execution_mode", execution_mode, EXECUTION_MODES)
    _require_known("model_provider", model_provider, MODEL_PROVIDERS)
    problems = [
        ConfigProblem(variable, f"{variable} is not set: {reason}.")
        for variable, reason in _needed_variables(mode, mode_name, ticketing_provider, execution_mode, model_provider)
        if not settings.is_set(variable)
    ]
    runs_on = effective_execution_mode(mode, execution_mode, model_provider)
    claude_is_set = settings.is_set("CLAUDE_CODE_OAUTH_TOKEN") or settings.is_set("ANTHROPIC_API_KEY")
    if runs_on in _RUNS_ON and model_provider == "anthropic" and not claude_is_set:
        problems.append(
            ConfigProblem(
                "CLAUDE_CODE_OAUTH_TOKEN",
                f"Neither CLAUDE_CODE_OAUTH_TOKEN nor ANTHROPIC_API_KEY is set: runs {_RUNS_ON[runs_on]} get "
                "their Claude credentials from the controller; set CLAUDE_CODE_OAUTH_TOKEN (preferred) or "
                "ANTHROPIC_API_KEY.",
            )
        )
    return problems


def _needed_variables(
    runner_mode: RunnerMode, mode_name: str, ticketing_provider: str, execution_mode: str, model_provider: str
) -> Iterator[tuple[str, str]]:
    """Each variable the mapping needs, with why, in the order an operator would set them up."""
    github_reason = "every mapping acts on its repository as the GitHub App"
    yield "GITHUB_APP_ID", github_reason
    yield "GITHUB_APP_PRIVATE_KEY", github_reason
    if ticketing_provider == "linear":
        yield "LINEAR_API_KEY", "the mapping uses Linear"
    else:
        for variable in JIRA_VARIABLES:
            yield variable, "the mapping uses Jira, which needs JIRA_TOKEN, JIRA_CLOUD_ID and JIRA_SITE_URL"

    runs_on = effective_execution_mode(runner_mode, execution_mode, model_provider)
    if runner_mode is RunnerMode.DEFAULT or bedrock_kept_off_fly(runner_mode, execution_mode, model_provider):
        where = f"the mapping runs {_RUNS_ON_TEXT[runs_on]}"
    else:
        where = f"{mode_name} runs every mapping {_RUNS_ON_TEXT[runs_on]}"
    if runs_on == "fly-machines":
        yield "FLY_SESSIONS_APP", f"{where}, which are created in the Fly app it names"
        yield "FLY_SESSIONS_TOKEN", f"{where}, which are created and destroyed with this token"
        yield "FLY_OIDC_ISSUER", f"{where}, which prove who they are with Fly's OIDC tokens from this issuer"
    elif runs_on == "local":
        yield "LOCAL_RUNNER_IMAGE", f"{where}, in containers started from this image"
    yield "RUNNER_CALLBACK_BASE_URL", f"{where}, and every runner reports its progress and result to this URL"
    yield (
        "RUNNER_TOKEN_SECRET",
        f"{where}, and every runner authenticates its callbacks with tokens it signs; without it no run starts",
    )


def _require_known(parameter: str, value: str, accepted: tuple[str, ...]) -> None:
    """Refuse values the ProjectMapping schema does not allow: getting one here is a programming error."""
    if value not in accepted:
        raise ValueError(f"{parameter}={value!r} is not one of {', '.join(accepted)}")
