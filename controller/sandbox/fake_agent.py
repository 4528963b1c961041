"""A stand-in for the Claude Code CLI: the same arguments and stream-JSON events, deterministic edits.

`python -m controller.sandbox.fake_agent -p --output-format stream-json --verbose --max-turns N
--model M` reads its prompt on stdin, as `claude -p` does. For each line of the prompt of the form
`fake-agent: write <path> <text>` (quoted with `>` or not) it writes that file in its working directory (one tool call
each); with no such line it writes `AI_IMPLEMENT_NOTES.md` summing up the prompt. It prints a
`system` init event, an `assistant` event with each tool call and its `user` tool result, and a
final `result` event with the turns, a token usage derived from the prompt's length, and its cost.

A planning prompt (one asking for the plan only) gets a short plan as its result and no edit.

`FAKE_AGENT_ENDING` plays the other endings: `fail` (an error result, exit 1), `max-turns` (the
turn limit reached), `crash` (exit 2 without a result), `hang` (never ends, after making its
edits), `garbage` (a line that is not JSON before a normal success). `FAKE_AGENT_SECONDS` makes it work
that long before it answers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

PLANNING_ASK = "Answer with the plan only"
"""What the runner's planning prompt says (controller.runner.prompts): the fake agent then plans, and edits nothing."""
INPUT_PRICE_PER_TOKEN = 3e-6
OUTPUT_PRICE_PER_TOKEN = 15e-6


def emit(event: dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


def edits_of(prompt: str) -> list[tuple[str, str]]:
    """The `fake-agent: write <path> <text>` lines of the prompt, or one note when there is none."""
    edits = []
    for line in prompt.splitlines():
        words = line.strip().lstrip("> ").split(" ", 3)  # quoted review feedback counts too
        if len(words) >= 3 and words[:2] == ["fake-agent:", "write"]:
            edits.append((words[2], (words[3] if len(words) > 3 else "") + "\n"))
    first_line = next((line.strip() for line in prompt.splitlines() if line.strip()), "(an empty prompt)")
    return edits or [("AI_IMPLEMENT_NOTES.md", f"# Notes\n\nWorked on: {first_line}\n")]


def plan_of(prompt: str) -> str:
    """A planning run's answer: a short plan naming the ticket's heading."""
    heading = next((line[3:].strip() for line in prompt.splitlines() if line.startswith("## Ticket")), "the ticket")
    return f"## Plan for {heading.removeprefix('Ticket ')}\n\n1. Read the code it touches.\n2. Change it.\n3. Test it."


def usage_of(prompt: str, turns: int) -> dict[str, int]:
    return {
        "input_tokens": 1000 + len(prompt),
        "output_tokens": 200 * turns,
        "cache_read_input_tokens": 4000 * turns,
        "cache_creation_input_tokens": 500,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="fake-agent")
    parser.add_argument("-p", "--print", action="store_true", dest="print_mode")
    parser.add_argument("--output-format", default="text")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--max-turns", type=int, default=10)
    parser.add_argument("--model", default="claude-sonnet-4-5")
    parser.add_argument("--permission-mode", default="default")
    arguments = parser.parse_args()
    if not arguments.print_mode or arguments.output_format != "stream-json" or not arguments.verbose:
        print("fake-agent: only `-p --output-format stream-json --verbose` is played", file=sys.stderr)
        return 64
    prompt = sys.stdin.read()
    ending = os.environ.get("FAKE_AGENT_ENDING", "succeed")
    session = str(uuid.uuid5(uuid.NAMESPACE_URL, prompt))
    emit({"type": "system", "subtype": "init", "session_id": session, "model": arguments.model, "cwd": os.getcwd()})
    if ending == "garbage":
        print("this line is not JSON", flush=True)
    if ending == "crash":
        print("fake-agent: crashed on purpose", file=sys.stderr)
        return 2
    planning = PLANNING_ASK in prompt
    edits = [] if planning else edits_of(prompt)
    turns = min(len(edits) + 1, arguments.max_turns)
    for number, (path, text) in enumerate(edits[: max(arguments.max_turns - 1, 0)]):
        tool_id = f"toolu_{number:04d}"
        call = {"type": "tool_use", "id": tool_id, "name": "Write", "input": {"file_path": path, "content": text}}
        emit({"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [call]}})
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        done = {"type": "tool_result", "tool_use_id": tool_id, "content": f"wrote {path}"}
        emit({"type": "user", "session_id": session, "message": {"role": "user", "content": [done]}})
    if ending == "hang":  # after its edits, so that a stopped run has work in progress to save
        time.sleep(3600)
    time.sleep(float(os.environ.get("FAKE_AGENT_SECONDS") or 0))
    summary = plan_of(prompt) if planning else f"Made {len(edits)} change(s)."
    emit(
        {
            "type": "assistant",
            "session_id": session,
            "message": {"role": "assistant", "content": [{"type": "text", "text": summary}]},
        }
    )
    usage = usage_of(prompt, turns)
    cost = round(
        (usage["input_tokens"] + usage["cache_creation_input_tokens"]) * INPUT_PRICE_PER_TOKEN
        + usage["output_tokens"] * OUTPUT_PRICE_PER_TOKEN,
        6,
    )
    subtype = {"fail": "error_during_execution", "max-turns": "error_max_turns"}.get(ending, "success")
    if len(edits) + 1 > arguments.max_turns:
        subtype = "error_max_turns"
    emit(
        {
            "type": "result",
            "subtype": subtype,
            "is_error": subtype != "success",
            "num_turns": turns,
            "duration_ms": 1200,
            "result": summary if subtype == "success" else "the tests kept failing",
            "session_id": session,
            "total_cost_usd": cost,
            "usage": usage,
        }
    )
    return 0 if subtype == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
