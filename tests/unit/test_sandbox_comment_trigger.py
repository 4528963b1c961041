"""The sandbox's comment-trigger job decides and sends as the synced comment-trigger.yml does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from controller.sandbox.github.comment_trigger import (
    COMMAND,
    TRIGGER_BODY_FIELDS,
    TRIGGER_WORKFLOW_PATH,
    TRUSTED_ASSOCIATIONS,
    TriggerRun,
    TriggerSettings,
    send_trigger,
    trigger_body,
)
from controller.workflows.rendering import COMMENT_TRIGGER_PATH, GAP_FILL_TRIGGER_FIELDS, _template_text

PULL = {"number": 7, "pull_request": {"url": "https://api.github.com/repos/acme/web/pulls/7"}}
ADA = {"login": "ada"}


def comment(body: str, association: str = "MEMBER") -> dict[str, Any]:
    return {"id": 991, "body": body, "author_association": association}


def test_the_sandbox_plays_the_template_it_stands_for() -> None:
    template = _template_text("comment-trigger.yml")
    condition = template.split("    if: >-\n", 1)[1].split("    runs-on:", 1)[0]
    assert TRIGGER_WORKFLOW_PATH == COMMENT_TRIGGER_PATH
    assert TRIGGER_BODY_FIELDS == GAP_FILL_TRIGGER_FIELDS
    assert f"startsWith(github.event.comment.body, '{COMMAND}')" in condition
    for association in TRUSTED_ASSOCIATIONS:
        assert f'"{association}"' in condition


@pytest.mark.parametrize(
    ("issue", "body", "association", "sent"),
    [
        (PULL, "/ai-implement add tests", "MEMBER", True),
        (PULL, "/ai-implement add tests", "OWNER", True),
        (PULL, "/ai-implement add tests", "COLLABORATOR", True),
        (PULL, "/ai-implement add tests", "CONTRIBUTOR", False),
        (PULL, "/ai-implement add tests", "NONE", False),
        (PULL, "please /ai-implement", "MEMBER", False),
        ({"number": 7}, "/ai-implement on an issue", "MEMBER", False),
    ],
    ids=["member", "owner", "collaborator", "contributor", "none", "not-first", "issue"],
)
def test_the_job_runs_only_where_its_if_lets_it(
    issue: dict[str, Any], body: str, association: str, *, sent: bool
) -> None:
    answer = trigger_body("acme/web", issue, comment(body, association), ADA)
    if not sent:
        assert answer is None
        return
    assert answer == {
        "repository": "acme/web",
        "pullRequestNumber": 7,
        "commentId": 991,
        "commentBody": body,
        "sender": "ada",
    }


@pytest.mark.parametrize(
    ("answers", "statuses"),
    [
        ([202], [202]),
        ([503, 503, 202], [503, 503, 202]),
        ([401], [401]),
        ([500, 500, 500, 500], [500, 500, 500, 500]),
    ],
    ids=["accepted", "retried-then-accepted", "refused-once", "gives-up-after-three-retries"],
)
async def test_the_step_retries_like_curl(answers: list[int], statuses: list[int]) -> None:
    seen: list[httpx.Request] = []
    waits: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(answers[len(seen) - 1])

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    run = TriggerRun(repository="acme/web", body={"repository": "acme/web"})
    settings = TriggerSettings(url="http://controller.test/", secret="s3cret")
    await send_trigger(run, settings, transport=httpx.MockTransport(answer), sleep=sleep)

    assert run.statuses == statuses
    assert waits == [1.0, 2.0, 4.0][: len(statuses) - 1]
    assert {str(request.url) for request in seen} == {"http://controller.test/trigger/gap-fill"}
    assert {request.headers["Authorization"] for request in seen} == {"Bearer s3cret"}


async def test_a_controller_that_is_not_there_is_retried_and_recorded_as_no_answer() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def sleep(seconds: float) -> None:
        return None

    run = TriggerRun(repository="acme/web", body={})
    await send_trigger(
        run, TriggerSettings(url="http://gone.test", secret="s"), transport=httpx.MockTransport(refuse), sleep=sleep
    )
    assert run.statuses == [None, None, None, None]
