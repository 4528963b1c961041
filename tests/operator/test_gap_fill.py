"""An /ai-implement comment on a bot-opened pull request starts one gap-fill run, end to end."""

from __future__ import annotations

from typing import Any

import pytest

from controller.sandbox import LinearSandbox
from controller.sandbox.github.comment_trigger import TRIGGER_WORKFLOW_PATH
from tests.operator.run_fixtures import GAP_FILL_SECRET, RunLoop
from tests.operator.stories import implement_one_ticket
from tests.support.api_fixtures import ApiFactory

BEARER = {"Authorization": f"Bearer {GAP_FILL_SECRET}"}


def comment(comment_id: int, number: int = 1, **changes: Any) -> dict[str, Any]:
    body = {
        "repository": "acme/eng",
        "pullRequestNumber": number,
        "commentId": comment_id,
        "commentBody": "/ai-implement the tests for the edge cases are missing",
        "sender": "ada",
    }
    return body | changes


async def implemented(loop: RunLoop, linear: LinearSandbox) -> None:
    assert (await implement_one_ticket(loop, linear))["phase"] == "Succeeded"


async def test_each_comment_starts_one_gap_fill_run_on_the_pull_request(loop: RunLoop, linear: LinearSandbox) -> None:
    await implemented(loop, linear)
    client = loop.api.client

    first = await client.post("/trigger/gap-fill", json=comment(101), headers=BEARER)
    again = await client.post("/trigger/gap-fill", json=comment(101), headers=BEARER)
    second = await client.post("/trigger/gap-fill", json=comment(102), headers=BEARER)

    assert (first.status, await first.json()) == (202, {"status": "accepted", "dispatch": "eng-1-gap-fill-1"})
    assert (again.status, (await again.json())["status"]) == (200, "duplicate")
    assert (await second.json())["dispatch"] == "eng-1-gap-fill-2"
    for name in ("eng-1-gap-fill-1", "eng-1-gap-fill-2"):
        status = await loop.until_closed(name)
        assert status["phase"] == "Succeeded"
        assert status["pullRequest"]["number"] == 1
    kinds = [entry.kind for entry in await loop.api.context.store.recent_dispatch_log()]
    assert kinds.count("gap-fill") == 2


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, comment(1), 401),
        ({"Authorization": "Bearer wrong"}, comment(1), 401),
        (BEARER, comment(1, number=99), 404),
        (BEARER, comment(1, repository="not a repo"), 422),
        (BEARER, {"repository": "acme/eng"}, 422),
    ],
    ids=["no-token", "wrong-token", "untracked-pull-request", "bad-repository", "missing-fields"],
)
async def test_refused_triggers_start_nothing(
    loop: RunLoop, headers: dict[str, str], body: dict[str, Any], status: int
) -> None:
    response = await loop.api.client.post("/trigger/gap-fill", json=body, headers=headers)

    assert response.status == status
    assert await loop.api.context.store.recent_dispatch_log() == []


async def test_the_trigger_is_disabled_without_its_secret(start_api: ApiFactory) -> None:
    api = await start_api({})

    response = await api.client.post("/trigger/gap-fill", json=comment(1), headers=BEARER)

    assert response.status == 503
    assert "GAP_FILL_TRIGGER_SECRET" in (await response.json())["error"]["message"]


async def test_a_members_comment_runs_the_synced_trigger_workflow_into_a_gap_fill_run(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    """The whole path a person takes: a comment on GitHub, the repository's trigger job, the controller."""
    await implemented(loop, linear)
    github = loop.github
    github.commit_files("acme", "eng", "main", {TRIGGER_WORKFLOW_PATH: "# the synced comment trigger\n"})
    github.set_comment_trigger("acme", "eng", url=loop.api_url, secret=GAP_FILL_SECRET)

    github.add_issue_comment("acme", "eng", 1, "please add the tests", user="ada")
    github.add_issue_comment("acme", "eng", 1, "/ai-implement from a stranger", user="eve", author_association="NONE")
    github.add_issue_comment("acme", "eng", 1, "/ai-implement add the missing tests", user="ada")
    [run] = await github.triggers_sent()

    assert run.statuses == [202]
    assert (run.body["commentBody"], run.body["sender"], run.body["pullRequestNumber"]) == (
        "/ai-implement add the missing tests",
        "ada",
        1,
    )
    assert (await loop.until_closed("eng-1-gap-fill-1"))["phase"] == "Succeeded"
