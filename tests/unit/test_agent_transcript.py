"""The coding agent's call and its stream-JSON transcript, read without running anything."""

from __future__ import annotations

import json

from controller.runner.agent import AgentSettings, AgentTranscript
from controller.runner.providers.claude_code import command as agent_command
from controller.runner.providers.claude_code import environment as agent_environment


def lines(*events: dict[str, object]) -> list[str]:
    return [json.dumps(event) for event in events]


INIT = {"type": "system", "subtype": "init", "session_id": "s-1", "model": "claude-sonnet-4-5"}
WRITE = {
    "type": "assistant",
    "session_id": "s-1",
    "message": {"content": [{"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "a.py"}}]},
}
SAID = {"type": "assistant", "message": {"content": [{"type": "text", "text": "Done: one file changed."}]}}
RESULT = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "num_turns": 3,
    "result": "Done: one file changed.",
    "total_cost_usd": 0.0421,
    "usage": {
        "input_tokens": 1500,
        "output_tokens": 320,
        "cache_read_input_tokens": 9000,
        "cache_creation_input_tokens": 700,
    },
}


def read(*events: dict[str, object], extra: list[str] | None = None) -> AgentTranscript:
    transcript = AgentTranscript()
    for line in [*lines(*events), *(extra or [])]:
        transcript.read(line)
    return transcript


def test_a_successful_run_gives_its_usage_as_the_result_callback_takes_it() -> None:
    transcript = read(INIT, WRITE, SAID, RESULT)

    assert transcript.succeeded
    assert (transcript.session_id, transcript.model, transcript.tools) == ("s-1", "claude-sonnet-4-5", ["Write"])
    assert transcript.usage() == {
        "inputTokens": 1500,
        "outputTokens": 320,
        "cacheReadTokens": 9000,
        "cacheCreationTokens": 700,
        "costUsd": 0.0421,
        "model": "claude-sonnet-4-5",
    }


def test_unreadable_lines_are_counted_and_skipped() -> None:
    transcript = read(INIT, RESULT, extra=["not json", "[1, 2]", "   "])
    assert (transcript.unreadable_lines, transcript.events, transcript.succeeded) == (2, 2, True)


def test_the_failures_say_why_in_the_agents_words() -> None:
    out_of_turns = read(INIT, RESULT | {"subtype": "error_max_turns", "is_error": True, "num_turns": 50})
    assert out_of_turns.failure() == (
        "MaxTurnsReached",
        "the agent used all its turns (50) before finishing. Done: one file changed.",
    )
    failed = read(INIT, SAID, RESULT | {"subtype": "error_during_execution", "is_error": True, "result": ""})
    assert failed.failure() == ("AgentFailed", "the agent reported error_during_execution. Done: one file changed.")
    assert read(INIT).failure() == ("AgentSilent", "the agent ended without its final result event")
    assert read(INIT).usage() is None


def test_nonsense_in_the_usage_counts_as_nothing() -> None:
    odd = RESULT | {"total_cost_usd": "free", "usage": {"input_tokens": -5, "output_tokens": "many"}}
    usage = read(odd).usage()
    assert usage is not None
    assert (usage["inputTokens"], usage["outputTokens"], usage["costUsd"]) == (0, 0, 0.0)


def test_the_command_is_print_mode_with_stream_json_the_turn_limit_and_the_model() -> None:
    settings = AgentSettings(command=("claude",), model="claude-opus-4-1", max_turns=30)
    assert agent_command(settings) == [
        "claude",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--max-turns",
        "30",
        "--permission-mode",
        "bypassPermissions",
        "--model",
        "claude-opus-4-1",
    ]


def test_the_oauth_token_is_preferred_and_bedrock_uses_the_mappings_region() -> None:
    both = {"ANTHROPIC_API_KEY": "sk-ant-1", "CLAUDE_CODE_OAUTH_TOKEN": "oat-1", "PATH": "/bin"}
    assert agent_environment(both, AgentSettings()) == {"CLAUDE_CODE_OAUTH_TOKEN": "oat-1", "PATH": "/bin"}
    assert agent_environment({"ANTHROPIC_API_KEY": "sk-ant-1"}, AgentSettings()) == {"ANTHROPIC_API_KEY": "sk-ant-1"}
    bedrock = agent_environment(both, AgentSettings(provider="bedrock", aws_region="eu-west-1"))
    assert bedrock == {"PATH": "/bin", "CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1"}
