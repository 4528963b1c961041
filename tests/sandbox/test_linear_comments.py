"""Comments: one per idempotency key, however often the call is made or retried."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from controller.httpclient import RetryPolicy
from controller.sandbox import Fault, LinearSandbox
from controller.ticketing.linear import COMMENT_ID_NAMESPACE, LinearClient, LinearError, LinearInvalidInput
from tests.sandbox.conftest import LINEAR_KEY, quick_transport
from tests.sandbox.support import START, FakeTime


def operations(sandbox: LinearSandbox) -> list[str]:
    return [request.json().get("operationName") for request in sandbox.requests]


async def test_a_comment_gets_the_uuid5_of_its_key(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    issue = linear_workspace.add_issue("ENG", "Ship it")

    comment = await linear.create_comment(
        issue.id, "Started **run 1**", idempotency_key="eng-1-implementation-1/started"
    )

    assert comment.id == str(uuid.uuid5(COMMENT_ID_NAMESPACE, "eng-1-implementation-1/started"))
    assert (comment.body, comment.issue_id, comment.issue_identifier) == ("Started **run 1**", issue.id, "ENG-1")
    assert comment.url.startswith("https://linear.app/acme/issue/ENG-1#comment-")
    assert comment.created_at.tzinfo is not None
    [stored] = linear_workspace.comments_on(issue)
    assert stored.id == comment.id


async def test_the_same_key_twice_makes_one_comment(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    issue = linear_workspace.add_issue("ENG", "Ship it")

    first = await linear.create_comment(issue.id, "Started", idempotency_key="k1")
    second = await linear.create_comment("ENG-1", "Started", idempotency_key="k1")

    assert first == second
    assert len(linear_workspace.comments_on(issue)) == 1
    assert operations(linear_workspace) == ["CreateComment", "CreateComment", "Comment"]


async def test_different_keys_make_different_comments(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    issue = linear_workspace.add_issue("ENG", "Ship it")

    await linear.create_comment(issue.id, "Started", idempotency_key="k1")
    await linear.create_comment(issue.id, "Finished", idempotency_key="k2")

    assert [comment.body for comment in linear_workspace.comments_on(issue)] == ["Started", "Finished"]


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault.unavailable(503, after_handler=True), id="5xx-after-acting"),
        pytest.param(Fault.disconnect(after_handler=True), id="connection-lost-after-acting"),
    ],
)
async def test_a_lost_answer_is_retried_without_a_second_comment(
    linear: LinearClient, linear_workspace: LinearSandbox, fault: Fault
) -> None:
    issue = linear_workspace.add_issue("ENG", "Ship it")
    linear_workspace.inject(fault)

    comment = await linear.create_comment(issue.id, "Started", idempotency_key="k1")

    assert [stored.id for stored in linear_workspace.comments_on(issue)] == [comment.id]
    assert operations(linear_workspace) == ["CreateComment", "CreateComment", "Comment"]


async def test_a_key_reused_on_another_issue_is_an_error(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    linear_workspace.add_issue("ENG", "one")
    linear_workspace.add_issue("ENG", "two")
    await linear.create_comment("ENG-1", "Started", idempotency_key="k1")

    with pytest.raises(LinearError, match="exists already on issue ENG-1, not on ENG-2"):
        await linear.create_comment("ENG-2", "Started", idempotency_key="k1")


async def test_a_comment_on_an_unknown_issue_is_an_input_error(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    with pytest.raises(LinearInvalidInput, match="Entity not found: Issue"):
        await linear.create_comment("ENG-404", "Started", idempotency_key="k1")


async def test_a_malformed_issue_id_is_invalid_input(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    with pytest.raises(LinearInvalidInput, match="issueId must be a valid UUID or issue identifier") as caught:
        await linear.create_comment("not an id", "Started", idempotency_key="k1")

    assert caught.value.codes == {"INVALID_INPUT"}


async def test_a_spent_comment_budget_is_waited_for(fake_time: FakeTime, retry: RetryPolicy) -> None:
    sandbox = LinearSandbox(clock=fake_time.clock, endpoint_limits={"commentCreate": 2}, period=60.0)
    sandbox.add_user("Ada Lovelace", "ada@example.com", api_key=LINEAR_KEY)
    sandbox.add_team("ENG")
    issue = sandbox.add_issue("ENG", "Ship it")
    async with (
        sandbox.running() as url,
        LinearClient(LINEAR_KEY, endpoint=f"{url}/graphql", retry=retry, transport=quick_transport()) as client,
    ):
        for key in ("k1", "k2", "k3"):
            await client.create_comment(issue.id, key, idempotency_key=key)

    assert len(sandbox.comments_on(issue)) == 3
    assert len(sandbox.requests) == 4
    assert fake_time.sleeps == [pytest.approx(60.0)], "the endpoint budget's reset, in ms, turned into seconds"


async def test_endpoint_budgets_are_reported_on_success(linear_workspace: LinearSandbox) -> None:
    linear_workspace.endpoint_limits["commentCreate"] = 30
    issue = linear_workspace.add_issue("ENG", "Ship it")
    mutation = "mutation C($input: CommentCreateInput!) { commentCreate(input: $input) { success } }"
    async with httpx.AsyncClient(headers={"Authorization": LINEAR_KEY}) as http:
        answer = await http.post(
            f"{linear_workspace.url}/graphql",
            json={"query": mutation, "variables": {"input": {"issueId": issue.id, "body": "hi"}}},
        )

    assert answer.json() == {"data": {"commentCreate": {"success": True}}}
    assert answer.headers["X-RateLimit-Endpoint-Name"] == "commentCreate"
    assert answer.headers["X-RateLimit-Endpoint-Requests-Limit"] == "30"
    assert answer.headers["X-RateLimit-Endpoint-Requests-Remaining"] == "29"
    assert int(answer.headers["X-RateLimit-Endpoint-Requests-Reset"]) == int((START + 120) * 1000)


CREATE_ISSUE = """
mutation File($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { identifier title description labels { nodes { name } } } }
}
"""


async def file_issue(sandbox: LinearSandbox, **fields: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(headers={"Authorization": LINEAR_KEY}) as http:
        answer = await http.post(f"{sandbox.url}/graphql", json={"query": CREATE_ISSUE, "variables": {"input": fields}})
    result: dict[str, Any] = answer.json()
    return result


async def test_a_person_files_a_labelled_issue_through_the_api(linear_workspace: LinearSandbox) -> None:
    team = linear_workspace.team("ENG")
    label = next(label for label in linear_workspace.labels.values() if label.name == "AI-Implement")

    answer = await file_issue(
        linear_workspace, teamId=team.id, title="Fix login", description="It *loops*.", labelIds=[label.id]
    )

    issue = answer["data"]["issueCreate"]["issue"]
    assert issue == {
        "identifier": "ENG-1",
        "title": "Fix login",
        "description": "It *loops*.",
        "labels": {"nodes": [{"name": "AI-Implement"}]},
    }
    assert linear_workspace.issue("ENG-1").title == "Fix login"


async def test_filing_an_issue_names_what_is_wrong(linear_workspace: LinearSandbox) -> None:
    team = linear_workspace.team("ENG")
    ops_label = next(label for label in linear_workspace.labels.values() if label.name == "ai-implement")

    no_team = await file_issue(linear_workspace, teamId=str(uuid.uuid4()), title="x")
    no_title = await file_issue(linear_workspace, teamId=team.id, title="")
    other_team = await file_issue(linear_workspace, teamId=team.id, title="x", labelIds=[ops_label.id])
    unsupported = await file_issue(linear_workspace, teamId=team.id, title="x", dueDate="2030-01-01")

    assert "Team" in no_team["errors"][0]["message"]
    assert "title is required" in no_title["errors"][0]["message"]
    assert "belongs to another team" in other_team["errors"][0]["message"]
    assert "dueDate" in unsupported["errors"][0]["message"]
    assert linear_workspace.issues == {}
