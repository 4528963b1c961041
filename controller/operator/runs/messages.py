"""What people read when a run ends: the ticket comment and the dispatch log's message. Pure.

Whatever a run reported (its error, its plan) is the run's word, not the controller's: it is shown
as a quote, with every link spelled out (`label (url)`) so that none hides where it goes and no
image is loaded from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

_MARKDOWN_LINK: Final = re.compile(r"!?\[([^\]\n]*)\]\(([^()\s]*)\)")

KIND_WORDS = {
    "planning": "planning",
    "implementation": "implementation",
    "review": "review follow-up",
    "gap-fill": "gap-fill",
}


def quoted(text: str) -> str:
    """A run's text as a Markdown quote, its links and images spelled out as `label (url)`."""
    spelled = _MARKDOWN_LINK.sub(lambda link: f"{link[1]} ({link[2]})" if link[1].strip() else link[2], text)
    return "\n".join(f"> {line}" if line.strip() else ">" for line in spelled.strip().splitlines())


def _word(text: str) -> str:
    """A reason word as inline code: whatever a run sends, it cannot break out of the backticks."""
    return "`" + text.replace("`", "'").replace("\n", " ")[:128] + "`"


def failed_step(steps: Sequence[Mapping[str, Any]]) -> str | None:
    """The step a failure happened in: the last failed one, else the last one still running."""
    for wanted in ("failed", "running"):
        for step in reversed(steps):
            if step.get("status") == wanted:
                return str(step.get("name"))
    return None


def closing_comment(
    *,
    phase: str,
    kind: str,
    dispatch_name: str,
    pull_request_url: str | None,
    error_reason: str | None,
    error_message: str | None,
    steps: Sequence[Mapping[str, Any]],
    run_url: str | None,
    summary: str | None = None,
    saved_branch: str | None = None,
) -> str:
    """The comment a ticket gets when its run ends: the PR or the plan, or what failed and where.

    A run stopped midway names the branch its work in progress was saved to, so nothing is lost.
    """
    run = f"AI-Implement's {KIND_WORDS.get(kind, kind)} run ({dispatch_name})"
    where = f"\nRun: {run_url}" if run_url else ""
    if saved_branch:
        where += f"\nWork in progress saved to branch `{saved_branch}`."
    if phase == "Succeeded":
        if pull_request_url:
            return f"{run} finished and opened a pull request: {pull_request_url}{where}"
        if summary and kind == "planning":
            return f"{run} finished. The plan it wrote:\n\n{quoted(summary)}\n{where}".rstrip()
        return f"{run} finished.{where}"
    step = failed_step(steps)
    at = f" in step {_word(step)}" if step else ""
    said = quoted(error_message) if error_message and error_message.strip() else "> no details were reported"
    if phase == "TimedOut":
        return f"{run} was stopped{at}:\n\n{said}\n{where}".rstrip()
    if phase == "Cancelled":
        return f"{run} was cancelled{at}:\n\n{said}\n{where}".rstrip()
    reason = f" ({_word(error_reason)})" if error_reason else ""
    return f"{run} failed{at}{reason}:\n\n{said}\n{where}".rstrip()


def log_message(phase: str, error_reason: str | None, error_message: str | None) -> str | None:
    """The dispatch log's one-line why, for runs that did not succeed."""
    if phase == "Succeeded":
        return None
    if error_reason and error_message:
        return f"{error_reason}: {error_message}"
    return error_message or error_reason


def notification_kind(phase: str) -> str:
    """The notification kind of a terminal phase (controller.notify.NotificationKind values)."""
    return {
        "Succeeded": "dispatch_succeeded",
        "TimedOut": "dispatch_timed_out",
        "ReviewFailed": "review_failed",
    }.get(phase, "dispatch_failed")
