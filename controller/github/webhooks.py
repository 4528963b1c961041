"""What a GitHub webhook delivery means for a tracked pull request, decided from its payload alone.

Pure: `read_delivery(event, body)` turns an `X-GitHub-Event` name and its JSON body into a
`PullRequestEvent` (feedback to take up, the pull request closed, or nothing to do and why), so the
rules are tested on tables and the HTTP handler only verifies, looks up and records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

FeedbackKind = Literal["review", "review-comment", "comment"]
WRITE_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
"""`author_association` values of people who may push to the repository: only their feedback steers a run."""
GAP_FILL_COMMAND = "/ai-implement"
"""A PR comment starting with this is the gap-fill trigger's (comment-trigger.yml), not review feedback."""


DISPATCH_MARKER = re.compile(r"<!--\s*ai-implement:dispatch=([a-z0-9][a-z0-9.-]{0,252})\s*-->")
"""What a runner writes into the body of a pull request it opens, so the webhook can tell whose it is."""


def dispatch_marker(dispatch_name: str) -> str:
    return f"<!-- ai-implement:dispatch={dispatch_name} -->"


class EventKind(StrEnum):
    FEEDBACK = "feedback"
    OPENED = "opened"
    CLOSED = "closed"
    PING = "ping"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True, kw_only=True)
class PullRequestEvent:
    kind: EventKind
    repo: str = ""
    number: int = 0
    feedback_kind: FeedbackKind | None = None
    triggers_review: bool = False
    """Reviews and review comments start a review run; conversation comments only ride along."""
    author: str = ""
    body: str = ""
    url: str = ""
    merged: bool = False
    dispatch_name: str | None = None
    """For OPENED: the Dispatch whose run opened the pull request."""
    head_branch: str | None = None
    reason: str = ""
    feedback_id: str = ""
    """The review's or comment's GitHub id: the same feedback delivered twice is recorded once."""
    refused: str = ""
    """For FEEDBACK: why no run may act on it (its author cannot push); recorded, never handed to the agent."""


def read_delivery(event: str, body: Mapping[str, Any]) -> PullRequestEvent:
    if event == "ping":
        return PullRequestEvent(kind=EventKind.PING)
    repo = str(_object(body.get("repository")).get("full_name") or "")
    if event == "pull_request":  # facts whoever caused them: our App opens them, merge queues merge them
        return _pull_request(repo, body.get("action"), body)
    sender = _object(body.get("sender"))
    if sender.get("type") == "Bot" or str(sender.get("login", "")).endswith("[bot]"):
        return _ignored("sent by a bot (our own comments arrive this way)")
    action = body.get("action")
    if event == "pull_request_review":
        return _review(repo, action, body)
    if event == "pull_request_review_comment":
        return _review_comment(repo, action, body)
    if event == "issue_comment":
        return _issue_comment(repo, action, body)
    return _ignored(f"{event or 'an unnamed'} events are not used")


def _review(repo: str, action: object, body: Mapping[str, Any]) -> PullRequestEvent:
    if action != "submitted":
        return _ignored(f"review {action} is not new feedback")
    review = _object(body.get("review"))
    state = str(review.get("state") or "").lower()
    text = str(review.get("body") or "")
    if state in ("approved", "dismissed"):
        return _ignored(f"an {state} review asks for no change")
    if state == "commented" and not text.strip():
        return _ignored("a review without a summary (its comments arrive as review comments)")
    return _feedback(repo, body, "review", review, text, triggers=True)


def _review_comment(repo: str, action: object, body: Mapping[str, Any]) -> PullRequestEvent:
    if action != "created":
        return _ignored(f"review comment {action} is not new feedback")
    comment = _object(body.get("comment"))
    where = comment.get("path")
    line = comment.get("line") or comment.get("original_line")
    prefix = f"{where}:{line}: " if where and line else (f"{where}: " if where else "")
    return _feedback(repo, body, "review-comment", comment, prefix + str(comment.get("body") or ""), triggers=True)


def _issue_comment(repo: str, action: object, body: Mapping[str, Any]) -> PullRequestEvent:
    issue = _object(body.get("issue"))
    if "pull_request" not in issue:
        return _ignored("a comment on an issue, not on a pull request")
    if action != "created":
        return _ignored(f"comment {action} is not new feedback")
    comment = _object(body.get("comment"))
    text = str(comment.get("body") or "")
    if text.lstrip().startswith(GAP_FILL_COMMAND):
        return _ignored(f"{GAP_FILL_COMMAND} comments go to the gap-fill trigger")
    number = issue.get("number")
    if not isinstance(number, int) or not repo:
        return _ignored("the delivery names no repository or pull request number")
    return _feedback_event(repo, number, "comment", comment, text, triggers=False)


def _pull_request(repo: str, action: object, body: Mapping[str, Any]) -> PullRequestEvent:
    pull = _object(body.get("pull_request"))
    number = body.get("number", pull.get("number"))
    if not isinstance(number, int) or not repo:
        return _ignored("the delivery names no repository or pull request number")
    if action == "closed":
        return PullRequestEvent(kind=EventKind.CLOSED, repo=repo, number=number, merged=bool(pull.get("merged")))
    if action not in ("opened", "reopened", "edited"):
        return _ignored(f"pull_request {action} changes nothing we follow")
    marker = DISPATCH_MARKER.search(str(pull.get("body") or ""))
    if marker is None:
        return _ignored("a pull request no run of ours opened")
    head_repo = str(_object(_object(pull.get("head")).get("repo")).get("full_name") or repo)
    author = _object(pull.get("user")) or _object(body.get("sender"))
    if head_repo.lower() != repo.lower():
        return _ignored("a pull request from a fork is never one of ours")
    if author.get("type") != "Bot":
        return _ignored("a pull request a person opened is not one of ours, whatever its body says")
    return PullRequestEvent(
        kind=EventKind.OPENED,
        repo=repo,
        number=number,
        url=str(pull.get("html_url") or ""),
        dispatch_name=marker.group(1),
        head_branch=str(_object(pull.get("head")).get("ref") or "") or None,
    )


def _feedback(
    repo: str, body: Mapping[str, Any], kind: FeedbackKind, item: Mapping[str, Any], text: str, *, triggers: bool
) -> PullRequestEvent:
    number = _object(body.get("pull_request")).get("number")
    if not isinstance(number, int) or not repo:
        return _ignored("the delivery names no repository or pull request number")
    return _feedback_event(repo, number, kind, item, text, triggers=triggers)


def _feedback_event(
    repo: str, number: int, kind: FeedbackKind, item: Mapping[str, Any], text: str, *, triggers: bool
) -> PullRequestEvent:
    """Feedback with its GitHub id; refused (kept, never acted on) unless its author may push."""
    feedback_id = item.get("id")
    if not isinstance(feedback_id, int | str) or isinstance(feedback_id, bool) or not str(feedback_id):
        return _ignored(f"the {kind} carries no id, so a redelivery could not be told apart")
    author = _login(item)
    association = str(item.get("author_association") or "NONE").upper()
    refused = ""
    if association not in WRITE_ASSOCIATIONS:
        refused = (
            f"{author} ({association.lower()}) cannot push to {repo}: only feedback from the repository's "
            "owners, members and collaborators steers a run"
        )
    return PullRequestEvent(
        kind=EventKind.FEEDBACK,
        repo=repo,
        number=number,
        feedback_kind=kind,
        triggers_review=triggers,
        author=author,
        body=text,
        url=str(item.get("html_url") or ""),
        feedback_id=str(feedback_id),
        refused=refused,
    )


def _login(item: Mapping[str, Any]) -> str:
    return str(_object(item.get("user")).get("login") or "someone")


def _ignored(reason: str) -> PullRequestEvent:
    return PullRequestEvent(kind=EventKind.IGNORED, reason=reason)


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
