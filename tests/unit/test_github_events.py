"""What a GitHub delivery means for a tracked pull request, as a table."""

from __future__ import annotations

from typing import Any

import pytest

from controller.github.webhooks import EventKind, read_delivery

REPO = {"full_name": "acme/web"}
HUMAN = {"login": "ada", "type": "User"}
PULL = {"number": 7, "merged": False}


def review(state: str, body: str | None = "Please rename it", action: str = "submitted") -> dict[str, Any]:
    return {
        "action": action,
        "repository": REPO,
        "sender": HUMAN,
        "pull_request": PULL,
        "review": {
            "id": 11,
            "state": state,
            "body": body,
            "user": HUMAN,
            "html_url": "https://github.com/r/1",
            "author_association": "MEMBER",
        },
    }


def comment(body: str, *, on_pull_request: bool = True, action: str = "created") -> dict[str, Any]:
    issue: dict[str, Any] = {"number": 7}
    if on_pull_request:
        issue["pull_request"] = {"url": "https://api.github.com/repos/acme/web/pulls/7"}
    return {
        "action": action,
        "repository": REPO,
        "sender": HUMAN,
        "issue": issue,
        "comment": {"id": 12, "body": body, "user": HUMAN, "author_association": "COLLABORATOR"},
    }


@pytest.mark.parametrize(
    ("event", "body", "kind", "feedback", "triggers"),
    [
        ("ping", {"zen": "Keep it logically awesome."}, EventKind.PING, None, False),
        ("pull_request_review", review("changes_requested"), EventKind.FEEDBACK, "review", True),
        ("pull_request_review", review("changes_requested", body=None), EventKind.FEEDBACK, "review", True),
        ("pull_request_review", review("commented"), EventKind.FEEDBACK, "review", True),
        ("pull_request_review", review("commented", body=""), EventKind.IGNORED, None, False),
        ("pull_request_review", review("approved"), EventKind.IGNORED, None, False),
        ("pull_request_review", review("dismissed"), EventKind.IGNORED, None, False),
        ("pull_request_review", review("commented", action="edited"), EventKind.IGNORED, None, False),
        (
            "pull_request_review_comment",
            {
                "action": "created",
                "repository": REPO,
                "sender": HUMAN,
                "pull_request": PULL,
                "comment": {
                    "id": 13,
                    "body": "off by one",
                    "path": "app.py",
                    "line": 12,
                    "user": HUMAN,
                    "author_association": "OWNER",
                },
            },
            EventKind.FEEDBACK,
            "review-comment",
            True,
        ),
        ("issue_comment", comment("Also update the docs"), EventKind.FEEDBACK, "comment", False),
        ("issue_comment", comment("/ai-implement fill the gaps"), EventKind.IGNORED, None, False),
        ("issue_comment", comment("on an issue", on_pull_request=False), EventKind.IGNORED, None, False),
        ("issue_comment", comment("edited", action="edited"), EventKind.IGNORED, None, False),
        (
            "pull_request",
            {"action": "closed", "number": 7, "repository": REPO, "sender": HUMAN, "pull_request": {"merged": True}},
            EventKind.CLOSED,
            None,
            False,
        ),
        (
            "pull_request",
            {"action": "opened", "number": 7, "repository": REPO, "sender": HUMAN, "pull_request": {}},
            EventKind.IGNORED,
            None,
            False,
        ),
        (
            "issue_comment",
            comment("thanks") | {"sender": {"login": "ai-implement[bot]", "type": "Bot"}},
            EventKind.IGNORED,
            None,
            False,
        ),
        ("push", {"repository": REPO, "sender": HUMAN}, EventKind.IGNORED, None, False),
        (
            "pull_request_review",
            {"action": "submitted", "sender": HUMAN, "review": {"state": "commented", "body": "x"}},
            EventKind.IGNORED,
            None,
            False,
        ),
    ],
    ids=[
        "ping",
        "changes-requested",
        "changes-requested-without-summary",
        "commented-review",
        "empty-commented-review",
        "approval",
        "dismissal",
        "edited-review",
        "review-comment",
        "pr-comment",
        "gap-fill-command",
        "issue-comment",
        "edited-comment",
        "merged",
        "opened",
        "bot",
        "unused-event",
        "no-repository",
    ],
)
def test_what_a_delivery_means(
    event: str, body: dict[str, Any], kind: EventKind, feedback: str | None, triggers: bool
) -> None:
    read = read_delivery(event, body)

    assert (read.kind, read.feedback_kind, read.triggers_review) == (kind, feedback, triggers)
    if kind is EventKind.IGNORED:
        assert read.reason
    if kind in (EventKind.FEEDBACK, EventKind.CLOSED):
        assert (read.repo, read.number) == ("acme/web", 7)


def test_a_review_comment_says_where_it_points_and_a_merge_says_merged() -> None:
    body = {
        "action": "created",
        "repository": REPO,
        "sender": HUMAN,
        "pull_request": PULL,
        "comment": {"id": 13, "body": "off by one", "path": "app.py", "line": 12, "user": HUMAN},
    }

    assert read_delivery("pull_request_review_comment", body).body == "app.py:12: off by one"
    closed = {"action": "closed", "number": 7, "repository": REPO, "sender": HUMAN, "pull_request": {"merged": False}}
    assert read_delivery("pull_request", closed).merged is False


def test_a_pull_request_opened_with_our_marker_names_its_dispatch_whoever_sent_it() -> None:
    body = {
        "action": "opened",
        "number": 9,
        "repository": REPO,
        "sender": {"login": "ai-implement[bot]", "type": "Bot"},
        "pull_request": {
            "html_url": "https://github.com/acme/web/pull/9",
            "head": {"ref": "ai/eng-1"},
            "body": "text\n<!-- ai-implement:dispatch=eng-1-implementation-1 -->",
        },
    }

    read = read_delivery("pull_request", body)

    assert (read.kind, read.dispatch_name, read.head_branch, read.number) == (
        EventKind.OPENED,
        "eng-1-implementation-1",
        "ai/eng-1",
        9,
    )
    unmarked = body | {"pull_request": {"body": "a person's pull request"}}
    assert read_delivery("pull_request", unmarked).kind is EventKind.IGNORED
    bot_merge = {
        "action": "closed",
        "number": 9,
        "repository": REPO,
        "sender": {"login": "q[bot]", "type": "Bot"},
        "pull_request": {"merged": True},
    }
    assert read_delivery("pull_request", bot_merge).kind is EventKind.CLOSED


@pytest.mark.parametrize(
    "association", ["NONE", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "MANNEQUIN", None]
)
def test_feedback_from_someone_who_cannot_push_is_refused_with_the_reason(association: str | None) -> None:
    body = review("changes_requested")
    body["review"]["author_association"] = association
    body["review"]["user"] = {"login": "mallory", "type": "User"}

    read = read_delivery("pull_request_review", body)

    assert read.kind is EventKind.FEEDBACK, "recorded, to be seen"
    assert read.refused.startswith("mallory (")
    assert "cannot push to acme/web" in read.refused


@pytest.mark.parametrize("association", ["OWNER", "MEMBER", "COLLABORATOR"])
def test_feedback_from_someone_who_can_push_is_acted_on(association: str) -> None:
    body = comment("Also update the docs")
    body["comment"]["author_association"] = association

    read = read_delivery("issue_comment", body)

    assert (read.kind, read.refused, read.feedback_id) == (EventKind.FEEDBACK, "", "12")


def test_feedback_without_an_id_is_ignored() -> None:
    body = review("changes_requested")
    del body["review"]["id"]

    assert read_delivery("pull_request_review", body).kind is EventKind.IGNORED
