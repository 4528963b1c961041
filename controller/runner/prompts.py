"""What the agent is told: the target repository's WORKFLOW.md / PLANNING.md, and the run's brief. Pure.

The prompt files are the team's (the controller syncs a starter and keeps their edits): the front
matter chooses the model and may lower the turn limit and list the repository's own checks; the
body is the instructions. The mapping's caps always win: a file cannot raise `max_turns` above them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from controller.workflows import FrontMatterError, parse_front_matter

PLANNING_FILE: Final = "PLANNING.md"
WORKFLOW_FILE: Final = "WORKFLOW.md"
HTML_COMMENT: Final = re.compile(r"<!--.*?-->", re.S)
MAX_CHECKS: Final = 20


class PromptFileError(ValueError):
    """A prompt file that cannot be used; the message names the file and the fault."""


@dataclass(frozen=True, slots=True)
class PromptFile:
    model: str | None
    max_turns: int | None
    checks: tuple[str, ...]
    instructions: str


DEFAULT_INSTRUCTIONS: Final = {
    PLANNING_FILE: "Read the ticket and the code it touches, and write a short plan: what changes where, "
    "how it will be tested, and what is unclear. Change no files.",
    WORKFLOW_FILE: "Implement the ticket with the smallest change that does what it asks, with tests, "
    "following the conventions of the code around it.",
}


def read_prompt_file(text: str | None, name: str) -> PromptFile:
    """The prompt file's settings and instructions; a missing file gives the defaults."""
    if text is None:
        return PromptFile(model=None, max_turns=None, checks=(), instructions=DEFAULT_INSTRUCTIONS[name])
    try:
        front = parse_front_matter(text, source=name) if text.lstrip("\ufeff").startswith("---") else {}
    except FrontMatterError as error:
        raise PromptFileError(str(error)) from None
    body = _body(text) if front else text
    instructions = HTML_COMMENT.sub("", body).strip() or DEFAULT_INSTRUCTIONS[name]
    return PromptFile(
        model=_model(front, name),
        max_turns=_turns(front, name),
        checks=_checks(front, name),
        instructions=instructions,
    )


def _body(text: str) -> str:
    lines = text.removeprefix("\ufeff").splitlines()
    end = next(number for number, line in enumerate(lines[1:], start=1) if line.strip() in ("---", "..."))
    return "\n".join(lines[end + 1 :])


def _model(front: Mapping[str, Any], name: str) -> str | None:
    model = front.get("model")
    if model is None or model == "":
        return None
    if not isinstance(model, str) or any(character.isspace() for character in model.strip()):
        raise PromptFileError(f"{name}: `model` must be one model id, e.g. claude-sonnet-4-5")
    return model.strip()


def _turns(front: Mapping[str, Any], name: str) -> int | None:
    turns = front.get("max_turns")
    if turns is None:
        return None
    if not isinstance(turns, int) or isinstance(turns, bool) or turns < 1:
        raise PromptFileError(f"{name}: `max_turns` must be a whole number of at least 1")
    return turns


def _checks(front: Mapping[str, Any], name: str) -> tuple[str, ...]:
    checks = front.get("checks")
    if checks is None:
        return ()
    if isinstance(checks, str):
        checks = [checks]
    if not isinstance(checks, list) or not all(isinstance(item, str) and item.strip() for item in checks):
        raise PromptFileError(f"{name}: `checks` must be a list of shell commands, e.g. [make test]")
    if len(checks) > MAX_CHECKS:
        raise PromptFileError(f"{name}: `checks` lists {len(checks)} commands; at most {MAX_CHECKS}")
    return tuple(item.strip() for item in checks)


def turn_limit(file_turns: int | None, mapping_turns: int) -> int:
    """The file may ask for fewer turns than the mapping allows, never more."""
    return mapping_turns if file_turns is None else min(file_turns, mapping_turns)


def compose_prompt(
    *,
    kind: str,
    instructions: str,
    ticket: Mapping[str, Any],
    plan: str | None = None,
    feedback: Sequence[Mapping[str, Any]] = (),
    pull_request: Mapping[str, Any] | None = None,
) -> str:
    """The whole prompt: the team's instructions, then the ticket and what this kind of run answers."""
    parts = [instructions.strip(), "", _ticket_section(ticket)]
    if plan:
        parts += ["", "## The approved plan", "", plan.strip()]
    if kind == "review" and feedback:
        parts += ["", "## Review feedback to address", ""]
        for item in feedback:
            where = f" ({item.get('url')})" if item.get("url") else ""
            parts += [f"- {item.get('author', 'someone')} wrote{where}:", _quoted(str(item.get("body", ""))), ""]
    if kind == "gap-fill" and pull_request:
        parts += [
            "",
            "## What to do",
            "",
            f"Pull request #{pull_request.get('number')} implements this ticket but is not complete. Compare it "
            "with the ticket, and finish what is missing on its branch.",
        ]
    if kind == "planning":
        parts += ["", "Answer with the plan only, in Markdown. Do not change any file."]
    return "\n".join(parts).rstrip() + "\n"


def _ticket_section(ticket: Mapping[str, Any]) -> str:
    title = str(ticket.get("title") or "").strip()
    identifier = str(ticket.get("identifier") or "").strip()
    lines = [f"## Ticket {identifier}: {title}".rstrip(": ")]
    if ticket.get("url"):
        lines.append(f"Link: {ticket['url']}")
    description = str(ticket.get("description") or "").strip()
    lines += ["", description or "(The ticket has no description: work from its title.)"]
    return "\n".join(lines)


def _quoted(text: str) -> str:
    return "\n".join(f"  > {line}" for line in text.strip().splitlines()) or "  > (empty)"
