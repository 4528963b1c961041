"""Labels: finding the right one of several with one name, creating the working label, applying it idempotently."""

from __future__ import annotations

from typing import Any

import pytest

from controller.sandbox import Fault, LinearSandbox
from controller.sandbox.linear import graphql_operation
from controller.ticketing.linear import LinearClient, LinearError, LinearInvalidInput, LinearUnavailable
from controller.ticketing.model import TicketScope


def operations(sandbox: LinearSandbox) -> list[str]:
    return [request.json().get("operationName") for request in sandbox.requests]


def variables_of(sandbox: LinearSandbox, operation: str) -> list[dict[str, Any]]:
    return [
        request.json()["variables"] for request in sandbox.requests if request.json().get("operationName") == operation
    ]


async def test_the_team_label_wins_over_the_workspace_label_of_the_same_name(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    ops_label = next(label for label in linear_workspace.labels.values() if label.team_id is not None)
    workspace_label = next(label for label in linear_workspace.labels.values() if label.name == "AI-Implement")

    in_ops = await linear.find_label("AI-Implement", "OPS")
    in_eng = await linear.find_label("AI-Implement", "ENG")

    assert in_ops is not None
    assert (in_ops.id, in_ops.name, in_ops.team_key) == (ops_label.id, "ai-implement", "OPS")
    assert in_eng is not None
    assert (in_eng.id, in_eng.team_key, in_eng.is_workspace_label) == (workspace_label.id, None, True)


async def test_another_teams_label_is_never_chosen(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    linear_workspace.add_label("Deploy", team_key="OPS")

    assert await linear.find_label("Deploy", "ENG") is None
    assert await linear.find_label("Deploy", "OPS") is not None


async def test_the_exact_spelling_wins_within_one_place(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    linear_workspace.add_label("needs-review", team_key="ENG")
    archived = linear_workspace.add_label("Needs-Review", team_key="WEB")
    archived.archived_at = linear_workspace.clock()
    exact = linear_workspace.add_label("Needs-Review")

    found = await linear.find_label("Needs-Review", "WEB")

    assert found is not None
    assert found.id == exact.id, "the archived team label is gone; the workspace label remains"


async def test_group_labels_are_skipped(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    linear_workspace.add_label("Area", team_key="ENG", is_group=True)

    assert await linear.find_label("Area", "ENG") is None


async def test_a_found_label_is_cached_a_missing_one_is_not(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    await linear.find_label("AI-Implement", "ENG")
    await linear.find_label("ai-IMPLEMENT", "ENG")
    assert await linear.find_label("Later", "ENG") is None
    linear_workspace.add_label("Later", team_key="ENG")
    assert await linear.find_label("Later", "ENG") is not None

    assert operations(linear_workspace) == ["FindLabel", "FindLabel", "FindLabel"]


async def test_ensure_label_creates_a_team_label_once(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    created = await linear.ensure_label("AI-Working", "ENG")
    again = await linear.ensure_label("AI-Working", "ENG")

    assert created == again
    assert created.team_key == "ENG"
    [label] = [label for label in linear_workspace.labels.values() if label.name == "AI-Working"]
    assert (label.id, label.team_id) == (created.id, linear_workspace.team("ENG").id)
    assert operations(linear_workspace) == ["FindLabel", "CreateLabel"]
    [create] = variables_of(linear_workspace, "CreateLabel")
    assert create == {"input": {"name": "AI-Working", "teamId": linear_workspace.team("ENG").id}}


async def test_ensure_label_uses_a_workspace_label_that_exists(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    existing = linear_workspace.add_label("AI-Working")

    label = await linear.ensure_label("AI-Working", "WEB")

    assert label.id == existing.id
    assert "CreateLabel" not in operations(linear_workspace)


async def test_a_lost_create_answer_is_settled_by_looking_again(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    linear_workspace.inject(Fault.unavailable(503, after_handler=True, where=graphql_operation("CreateLabel")))

    label = await linear.ensure_label("AI-Working", "ENG")

    assert operations(linear_workspace) == ["FindLabel", "CreateLabel", "FindLabel"], "no second create"
    assert [other.id for other in linear_workspace.labels.values() if other.name == "AI-Working"] == [label.id]


async def test_a_label_cannot_be_created_in_a_team_the_key_cannot_see(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    with pytest.raises(LinearError, match="no Linear team with key 'NOPE'"):
        await linear.ensure_label("AI-Working", "NOPE")


async def test_the_sandbox_refuses_a_duplicate_label_name_in_one_team(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    team_id = linear_workspace.team("OPS").id

    with pytest.raises(LinearInvalidInput, match="Label with this name already exists in the team"):
        await linear._graphql(
            "mutation M($input: IssueLabelCreateInput!) { issueLabelCreate(input: $input) { success } }",
            {"input": {"name": "AI-IMPLEMENT", "teamId": team_id}},
            "M",
            idempotent=False,
        )


async def test_adding_and_removing_labels_is_idempotent(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    issue = linear_workspace.add_issue("ENG", "Ship it", labels=["AI-Implement"])
    label = await linear.ensure_label("AI-Working", "ENG")

    first = await linear.add_label(issue.id, label.id)
    second = await linear.add_label("ENG-1", label.id)
    assert first.labels == second.labels == {"AI-Implement", "AI-Working"}
    assert linear_workspace.labels_of(issue) == ["AI-Implement", "AI-Working"]

    removed = await linear.remove_label(issue.id, label.id)
    removed_again = await linear.remove_label(issue.id, label.id)
    assert removed.labels == removed_again.labels == {"AI-Implement"}
    assert second.updated_at == first.updated_at, "a repeated add changes nothing, not even updatedAt"


async def test_label_changes_are_retried_after_a_lost_answer(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    issue = linear_workspace.add_issue("ENG", "Ship it", labels=["AI-Implement"])
    label = await linear.ensure_label("AI-Working", "ENG")
    linear_workspace.inject(Fault.disconnect(after_handler=True))

    ticket = await linear.add_label(issue.id, label.id)

    assert ticket.labels == {"AI-Implement", "AI-Working"}
    assert operations(linear_workspace)[-2:] == ["AddLabel", "AddLabel"]


async def test_marking_in_progress_and_clearing_it(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    linear_workspace.add_issue("WEB", "Ship it", labels=["AI-Implement"])
    [ticket] = await linear.fetch_ai_tickets([TicketScope(team_key="WEB", route_key="WEB")])

    working = await linear.mark_in_progress(ticket)
    assert working.labels == {"AI-Implement", "AI-Working"}
    [label] = [label for label in linear_workspace.labels.values() if label.name == "AI-Working"]
    assert label.team_id == linear_workspace.team("WEB").id, "created as a team label"

    cleared = await linear.clear_in_progress(working)
    assert cleared.labels == {"AI-Implement"}


async def test_clearing_removes_the_working_label_of_either_place(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    linear_workspace.add_label("AI-Working")
    linear_workspace.add_label("ai-working", team_key="ENG")
    linear_workspace.add_issue("ENG", "Ship it", labels=["AI-Implement", "AI-Working"])
    ticket = await linear.ticket("ENG-1")
    assert ticket is not None

    cleared = await linear.clear_in_progress(ticket)

    assert cleared.labels == {"AI-Implement"}
    assert operations(linear_workspace)[-2:] == ["RemoveLabel", "RemoveLabel"]


async def test_clearing_without_any_working_label_changes_nothing(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    linear_workspace.add_issue("ENG", "Ship it", labels=["AI-Implement"])
    ticket = await linear.ticket("ENG-1")
    assert ticket is not None

    assert await linear.clear_in_progress(ticket) is ticket
    assert operations(linear_workspace)[-1] == "FindLabel"


async def test_a_label_of_another_team_is_refused_by_the_sandbox(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    issue = linear_workspace.add_issue("ENG", "Ship it")
    ops_only = linear_workspace.add_label("Pager", team_key="OPS")

    with pytest.raises(LinearInvalidInput, match="belongs to another team"):
        await linear.add_label(issue.id, ops_only.id)


async def test_an_unknown_issue_is_an_input_error(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    label = await linear.ensure_label("AI-Working", "ENG")

    with pytest.raises(LinearInvalidInput, match="Entity not found: Issue"):
        await linear.add_label("ENG-404", label.id)


async def test_a_create_failure_that_left_no_label_is_raised(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    linear_workspace.inject(Fault.unavailable(503, where=graphql_operation("CreateLabel")))

    with pytest.raises(LinearUnavailable):
        await linear.ensure_label("AI-Working", "ENG")

    assert not [label for label in linear_workspace.labels.values() if label.name == "AI-Working"]
