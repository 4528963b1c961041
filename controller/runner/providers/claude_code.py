"""Claude Code, the default agent: print mode with stream-JSON output, one Anthropic credential or Bedrock."""

from __future__ import annotations

from collections.abc import Mapping

from controller.runner.providers import AgentSettings


def command(settings: AgentSettings) -> list[str]:
    """The argv: print mode (the prompt comes on stdin), stream-JSON, the turn limit and the model."""
    argv = [*settings.command, "-p", "--output-format", "stream-json", "--verbose"]
    argv += ["--max-turns", str(settings.max_turns), "--permission-mode", "bypassPermissions"]
    if settings.model:
        argv += ["--model", settings.model]
    return argv


def environment(base: Mapping[str, str], settings: AgentSettings) -> dict[str, str]:
    """The run's environment with one Anthropic credential (the OAuth token wins), or Bedrock's switches."""
    chosen = dict(base)
    if settings.provider == "bedrock":
        chosen["CLAUDE_CODE_USE_BEDROCK"] = "1"
        if settings.aws_region:
            chosen["AWS_REGION"] = settings.aws_region
        chosen.pop("ANTHROPIC_API_KEY", None)
        chosen.pop("CLAUDE_CODE_OAUTH_TOKEN", None)
    elif chosen.get("CLAUDE_CODE_OAUTH_TOKEN"):
        chosen.pop("ANTHROPIC_API_KEY", None)
    return chosen
