"""Agent providers: how the coding agent is called. One file per provider, its id the file's name.

A provider module has two functions at the top level (checked by `controller.pipelines` without
running it): `command(settings) -> list[str]`, the argv, and `environment(base, settings) ->
dict[str, str]`, the agent's environment. `custom/providers/<id>.py` overrides a built-in one of the
same id or adds one; a run picks it with `agent:` in WORKFLOW.md's front matter (default
`claude-code`). Whatever the command, the agent must print Claude Code's stream-JSON on stdout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

DEFAULT_COMMAND: Final = ("claude",)


@dataclass(frozen=True)
class AgentSettings:
    command: Sequence[str] = DEFAULT_COMMAND
    """The agent's executable and any leading arguments (AI_IMPLEMENT_AGENT_COMMAND)."""
    model: str | None = None
    max_turns: int = 50
    timeout_seconds: float = 3600.0
    provider: str = "anthropic"
    """anthropic or bedrock: the mapping's model provider."""
    aws_region: str | None = None


class AgentProvider(Protocol):
    def command(self, settings: AgentSettings) -> list[str]: ...

    def environment(self, base: Mapping[str, str], settings: AgentSettings) -> dict[str, str]: ...
