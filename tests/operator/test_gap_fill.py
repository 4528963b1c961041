"""An /ai-implement comment on a bot-opened pull request starts one gap-fill run, end to end.

The comments are made in the GitHub sandbox, so the controller reads each one back through the App
as it does in production; the trigger's bearer is the repository's own derived secret.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.github.trigger_secrets import repository_trigger_secret
from controller.kube import PROJECT_MAPPINGS
from controller.sandbox import LinearSandbox
from controller.sandbox.github.comment_trigger import TRIGGER_WORKFLOW_PATH
from tests.operator.run_fixtures import GAP_FILL_SECRET, OWNER, RunLoop
from tests.operator.stories import implement_one_ticket
from tests.support.api_fixtures import ApiFactory
from tests.support.waiting import eventually

REPOSITORY = "acme/eng"
BEARER = {"Authorization": f"Bearer {repository_trigger_secret(GAP_FILL_SECRET, REPOSITORY)}"}
COMMAND = "/ai-implement the tests for the edge cases are missing"


def comment(comment_id: int, number: int = 1, **changes: Any) -> dict[str, Any]:
    body = {
        "repository": REPOSITORY,
        "pullRequestNumber": number,
        "commentId": comment_id,
        "commentBody": COMMAND,
        "sender": "ada",
    }
    return body | changes


def commented(loop: RunLoop, text: str = COMMAND, *, user: str = "ada", association: str = "MEMBER") -> int:
    """A person's comment on pull request #1, made on GitHub; its id."""
    made = loop.github.add_issue_comment(OWNER, "eng", 1, text, user=user, author_association=association)
    return int(made["id"])


async def implemented(loop: RunLoop, linear: LinearSandbox) -> None:
    assert (await implement_one_ticket(loop, linear))["phase"] == "Succeeded"


async def test_each_comment_starts_one_gap_fill_run_on_the_pull_request(loop: RunLoop, linear: LinearSandbox) -> None:
    await implemented(loop, linear)
    client = loop.api.client
    first_id, second_id = commented(loop), commented(loop)

    first = await client.post("/trigger/gap-fill", json=comment(first_id), headers=BEARER)
    again = await client.post("/trigger/gap-fill", json=comment(first_id), headers=BEARER)
    busy = await client.post("/trigger/gap-fill", json=comment(second_id), headers=BEARER)

    assert (first.status, await first.json()) == (202, {"status": "accepted", "dispatch": "eng-1-gap-fill-1"})
    assert (again.status, (await again.json())["status"]) == (200, "duplicate")
    assert (busy.status, (await busy.json())["error"]["code"]) == (409, "gap_fill_running"), "one at a time"
    assert (await loop.until_closed("eng-1-gap-fill-1"))["phase"] == "Succeeded"
    second = await client.post("/trigger/gap-fill", json=comment(second_id), headers=BEARER)
    assert (await second.json())["dispatch"] == "eng-1-gap-fill-2", "the refused comment counts once it may"
    status = await loop.until_closed("eng-1-gap-fill-2")
    assert (status["phase"], status["pullRequest"]["number"]) == ("Succeeded", 1)
    kinds = [entry.kind for entry in await loop.api.context.store.recent_dispatch_log()]
    assert kinds.count("gap-fill") == 2


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, comment(1), 401),
        ({"Authorization": "Bearer wrong"}, comment(1), 401),
        ({"Authorization": f"Bearer {GAP_FILL_SECRET}"}, comment(1), 401),
        ({"Authorization": f"Bearer {repository_trigger_secret(GAP_FILL_SECRET, 'acme/other')}"}, comment(1), 401),
        (BEARER, comment(1, number=99), 404),
        (BEARER, comment(1, repository="not a repo"), 422),
        (BEARER, {"repository": REPOSITORY}, 422),
    ],
    ids=[
        "no-token",
        "wrong-token",
        "the-controllers-key-itself",
        "another-repositorys-secret",
        "untracked-pull-request",
        "bad-repository",
        "missing-fields",
    ],
)
async def test_refused_triggers_start_nothing(
    loop: RunLoop, headers: dict[str, str], body: dict[str, Any], status: int
) -> None:
    response = await loop.api.client.post("/trigger/gap-fill", json=body, headers=headers)

    assert response.status == status
    assert await loop.api.context.store.recent_dispatch_log() == []


async def test_a_comment_github_does_not_confirm_starts_nothing(loop: RunLoop, linear: LinearSandbox) -> None:
    """The bearer proves only which repository's workflow called: the comment itself is read back."""
    await implemented(loop, linear)
    cases = {
        "no_comment": comment(987654),
        "not_a_command": comment(commented(loop, "please add the tests")),
        "cannot_push": comment(commented(loop, user="mallory", association="NONE"), sender="ada"),
        "contributor": comment(commented(loop, user="carol", association="CONTRIBUTOR")),
    }

    answers = {}
    for case, body in cases.items():
        response = await loop.api.client.post("/trigger/gap-fill", json=body, headers=BEARER)
        answers[case] = (response.status, (await response.json())["error"]["code"])

    assert answers == {
        "no_comment": (404, "no_comment"),
        "not_a_command": (403, "not_a_command"),
        "cannot_push": (403, "cannot_push"),
        "contributor": (403, "cannot_push"),
    }
    kinds = [entry.kind for entry in await loop.api.context.store.recent_dispatch_log()]
    assert "gap-fill" not in kinds


async def test_a_mapping_at_its_cap_or_paused_and_a_spent_pull_request_start_nothing(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    await implemented(loop, linear)
    client = loop.api.client
    patch = {"spec": {"capacity": {"maxInProgressAiIssues": 0}}}
    await loop.kube.merge_patch(PROJECT_MAPPINGS, loop.namespace, "eng", patch)
    await _until_cached(loop, lambda spec: spec["capacity"]["maxInProgressAiIssues"] == 0)

    full = await client.post("/trigger/gap-fill", json=comment(commented(loop)), headers=BEARER)
    assert (full.status, (await full.json())["error"]["code"]) == (409, "at_capacity")

    patch = {"spec": {"paused": True, "capacity": {"maxInProgressAiIssues": 2}}}
    await loop.kube.merge_patch(PROJECT_MAPPINGS, loop.namespace, "eng", patch)
    await _until_cached(loop, lambda spec: spec.get("paused") is True)
    paused = await client.post("/trigger/gap-fill", json=comment(commented(loop)), headers=BEARER)
    assert (paused.status, (await paused.json())["error"]["code"]) == (409, "mapping_paused")


async def test_a_pull_request_gets_at_most_gap_fill_max_runs(
    loop: RunLoop, linear: LinearSandbox, start_api: ApiFactory
) -> None:
    await implemented(loop, linear)
    loop.api.context.settings = loop.api.context.settings.model_copy(update={"gap_fill_max_runs": 1})
    client = loop.api.client

    first = await client.post("/trigger/gap-fill", json=comment(commented(loop)), headers=BEARER)
    assert first.status == 202
    await loop.until_closed("eng-1-gap-fill-1")
    over = await client.post("/trigger/gap-fill", json=comment(commented(loop)), headers=BEARER)

    assert (over.status, (await over.json())["error"]["code"]) == (409, "gap_fill_limit")
    assert "GAP_FILL_MAX_RUNS" in (await over.json())["error"]["message"]


async def _until_cached(loop: RunLoop, holds: Any) -> None:
    def seen() -> bool:
        cached = loop.api.context.mappings.get("eng")
        return cached is not None and bool(holds(cached["spec"]))

    await eventually(seen)


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
    github.commit_files(OWNER, "eng", "main", {TRIGGER_WORKFLOW_PATH: "# the synced comment trigger\n"})
    github.set_comment_trigger(
        OWNER, "eng", url=loop.api_url, secret=repository_trigger_secret(GAP_FILL_SECRET, REPOSITORY)
    )

    github.add_issue_comment(OWNER, "eng", 1, "please add the tests", user="ada")
    github.add_issue_comment(OWNER, "eng", 1, "/ai-implement from a stranger", user="eve", author_association="NONE")
    github.add_issue_comment(OWNER, "eng", 1, "/ai-implement add the missing tests", user="ada")
    [run] = await github.triggers_sent()

    assert run.statuses == [202]
    assert (run.body["commentBody"], run.body["sender"], run.body["pullRequestNumber"]) == (
        "/ai-implement add the missing tests",
        "ada",
        1,
    )
    assert (await loop.until_closed("eng-1-gap-fill-1"))["phase"] == "Succeeded"
