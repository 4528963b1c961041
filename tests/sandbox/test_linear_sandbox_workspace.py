"""The Linear sandbox's workspace answered over GraphQL: filters, ordering, cursors, and honest refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from controller.sandbox import LinearSandbox, linear_schema
from tests.sandbox.conftest import LINEAR_KEY
from tests.sandbox.support import FakeTime

ISSUES = """
query Issues($filter: IssueFilter, $first: Int, $after: String, $orderBy: PaginationOrderBy, $archived: Boolean) {
  issues(filter: $filter, first: $first, after: $after, orderBy: $orderBy, includeArchived: $archived) {
    nodes { identifier }
    edges { cursor node { identifier } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


@pytest.fixture
async def http(linear_workspace: LinearSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{linear_workspace.url}", headers={"Authorization": LINEAR_KEY}) as client:
        yield client


async def graphql(http: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    answer = await http.post("/graphql", json={"query": query, "variables": variables})
    body = answer.json()
    assert isinstance(body, dict)
    return body


async def identifiers(http: httpx.AsyncClient, **variables: Any) -> list[str]:
    body = await graphql(http, ISSUES, **variables)
    assert "errors" not in body, body
    return [node["identifier"] for node in body["data"]["issues"]["nodes"]]


@pytest.fixture
def seeded(linear_workspace: LinearSandbox, fake_time: FakeTime) -> LinearSandbox:
    """ENG-1 (AI, Todo), ENG-2 (Bug, In Progress), OPS-1 (ai-implement, Done), WEB-1 (no label, Backlog)."""
    linear_workspace.add_issue("ENG", "Alpha", labels=["AI-Implement"])
    fake_time.now += 1
    linear_workspace.add_issue("ENG", "Beta", state="In Progress", labels=["Bug"])
    fake_time.now += 1
    linear_workspace.add_issue("OPS", "Gamma", state="Done", labels=["ai-implement"])
    fake_time.now += 1
    linear_workspace.add_issue("WEB", "Delta", state="Backlog")
    return linear_workspace


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        pytest.param({}, ["ENG-1", "ENG-2", "OPS-1", "WEB-1"], id="no-filter-oldest-first"),
        pytest.param({"labels": {"name": {"eq": "AI-Implement"}}}, ["ENG-1"], id="label-eq-is-case-sensitive"),
        pytest.param(
            {"labels": {"name": {"eqIgnoreCase": "ai-IMPLEMENT"}}}, ["ENG-1", "OPS-1"], id="label-ignore-case"
        ),
        pytest.param({"labels": {"some": {"name": {"eq": "Bug"}}}}, ["ENG-2"], id="labels-some"),
        pytest.param({"labels": {"null": True}}, ["WEB-1"], id="no-labels"),
        pytest.param({"team": {"key": {"eq": "ENG"}}}, ["ENG-1", "ENG-2"], id="team-key-eq"),
        pytest.param({"team": {"key": {"in": ["OPS", "WEB"]}}}, ["OPS-1", "WEB-1"], id="team-key-in"),
        pytest.param({"state": {"type": {"in": ["unstarted", "started"]}}}, ["ENG-1", "ENG-2"], id="state-type-in"),
        pytest.param(
            {"state": {"type": {"nin": ["completed", "canceled", "duplicate"]}}},
            ["ENG-1", "ENG-2", "WEB-1"],
            id="state-type-nin",
        ),
        pytest.param(
            {"or": [{"team": {"key": {"eq": "WEB"}}}, {"labels": {"name": {"eq": "Bug"}}}]},
            ["ENG-2", "WEB-1"],
            id="or",
        ),
        pytest.param(
            {"team": {"key": {"eq": "ENG"}}, "labels": {"name": {"eq": "Bug"}}}, ["ENG-2"], id="fields-are-anded"
        ),
        pytest.param({"updatedAt": {"gt": "2026-01-02T03:04:01.500Z"}}, ["OPS-1", "WEB-1"], id="updated-after-instant"),
        pytest.param({"createdAt": {"gte": "-PT1S"}}, ["OPS-1", "WEB-1"], id="created-within-a-duration"),
        pytest.param({"createdAt": {"gt": "-PT0.5S"}}, ["WEB-1"], id="fractional-duration"),
        pytest.param({"number": {"eq": 1}, "team": {"key": {"eq": "OPS"}}}, ["OPS-1"], id="number"),
        pytest.param({"title": {"containsIgnoreCase": "ALP"}}, ["ENG-1"], id="title-contains"),
    ],
)
async def test_issue_filters(
    seeded: LinearSandbox, http: httpx.AsyncClient, condition: dict[str, Any], expected: list[str]
) -> None:
    assert await identifiers(http, filter=condition) == expected


async def test_order_by_updated_at_puts_the_latest_change_first(
    seeded: LinearSandbox, http: httpx.AsyncClient, fake_time: FakeTime
) -> None:
    fake_time.now += 10
    seeded.update_issue("ENG-1", title="Alpha, again")

    assert await identifiers(http, orderBy="updatedAt") == ["ENG-1", "WEB-1", "OPS-1", "ENG-2"]


async def test_cursors_page_forward_and_hold_when_an_item_leaves_the_filter(
    linear_workspace: LinearSandbox, http: httpx.AsyncClient
) -> None:
    for number in range(5):
        linear_workspace.add_issue("ENG", f"issue {number}", labels=["AI-Implement"])
    condition = {"labels": {"name": {"eq": "AI-Implement"}}}

    first = (await graphql(http, ISSUES, filter=condition, first=2))["data"]["issues"]
    linear_workspace.update_issue("ENG-2", remove_labels=["AI-Implement"])
    second = (await graphql(http, ISSUES, filter=condition, first=2, after=first["pageInfo"]["endCursor"]))["data"][
        "issues"
    ]
    third = (await graphql(http, ISSUES, filter=condition, first=2, after=second["pageInfo"]["endCursor"]))["data"][
        "issues"
    ]

    assert [node["identifier"] for node in first["nodes"]] == ["ENG-1", "ENG-2"]
    assert [node["identifier"] for node in second["nodes"]] == ["ENG-3", "ENG-4"]
    assert [node["identifier"] for node in third["nodes"]] == ["ENG-5"]
    assert first["pageInfo"]["hasNextPage"]
    assert second["pageInfo"]["hasNextPage"]
    assert not third["pageInfo"]["hasNextPage"]
    assert (first["pageInfo"]["hasPreviousPage"], second["pageInfo"]["hasPreviousPage"]) == (False, True)
    assert [edge["cursor"] for edge in first["edges"]][-1] == first["pageInfo"]["endCursor"]


async def test_first_defaults_to_50(linear_workspace: LinearSandbox, http: httpx.AsyncClient) -> None:
    for number in range(51):
        linear_workspace.add_issue("ENG", f"issue {number}")

    assert len(await identifiers(http)) == 50


async def test_archived_issues_need_include_archived(seeded: LinearSandbox, http: httpx.AsyncClient) -> None:
    seeded.archive_issue("WEB-1")

    assert "WEB-1" not in await identifiers(http)
    assert "WEB-1" in await identifiers(http, archived=True)


@pytest.mark.parametrize(
    ("variables", "code", "words"),
    [
        pytest.param({"first": 251}, "INPUT_ERROR", "first must be between 0 and 250", id="page-too-large"),
        pytest.param({"after": "not-a-cursor"}, "INPUT_ERROR", "Invalid cursor", id="bad-cursor"),
        pytest.param(
            {"filter": {"assignee": {"null": True}}},
            "SANDBOX_NOT_IMPLEMENTED",
            "the filter field IssueFilter.assignee",
            id="unimplemented-filter",
        ),
        pytest.param(
            {"filter": {"updatedAt": {"gt": "yesterday"}}}, "INPUT_ERROR", "neither an ISO-8601", id="bad-date"
        ),
    ],
)
async def test_what_the_sandbox_cannot_answer_is_an_error_not_an_empty_page(
    seeded: LinearSandbox, http: httpx.AsyncClient, variables: dict[str, Any], code: str, words: str
) -> None:
    body = await graphql(http, ISSUES, **variables)

    [error] = body["errors"]
    assert error["extensions"]["code"] == code
    assert words in error["message"]
    assert body["data"] is None


async def test_issue_by_identifier_is_case_insensitive_and_unknown_ones_are_not_found(
    seeded: LinearSandbox, http: httpx.AsyncClient
) -> None:
    query = "query I($id: String!) { issue(id: $id) { identifier url team { key } state { name type } } }"

    found = await graphql(http, query, id="eng-2")
    missing = await graphql(http, query, id="ENG-99")

    assert found["data"]["issue"] == {
        "identifier": "ENG-2",
        "url": "https://linear.app/acme/issue/ENG-2",
        "team": {"key": "ENG"},
        "state": {"name": "In Progress", "type": "started"},
    }
    [error] = missing["errors"]
    assert (error["message"], error["extensions"]["code"]) == ("Entity not found: Issue", "INPUT_ERROR")
    assert error["extensions"]["type"] == "invalid input"


async def test_issue_labels_filter_by_team_or_workspace(seeded: LinearSandbox, http: httpx.AsyncClient) -> None:
    query = """query L($filter: IssueLabelFilter) {
      issueLabels(first: 10, filter: $filter) { nodes { name team { key } } }
    }"""
    condition = {
        "name": {"eqIgnoreCase": "ai-implement"},
        "or": [{"team": {"key": {"eq": "OPS"}}}, {"team": {"null": True}}],
    }

    body = await graphql(http, query, filter=condition)

    assert body["data"]["issueLabels"]["nodes"] == [
        {"name": "AI-Implement", "team": None},
        {"name": "ai-implement", "team": {"key": "OPS"}},
    ]


async def test_timestamps_have_milliseconds_and_z(seeded: LinearSandbox, http: httpx.AsyncClient) -> None:
    body = await graphql(http, 'query { issue(id: "ENG-1") { createdAt updatedAt } }')

    assert body["data"]["issue"] == {"createdAt": "2026-01-02T03:04:00.000Z", "updatedAt": "2026-01-02T03:04:00.000Z"}


def test_every_field_the_sandbox_answers_exists_in_linears_schema(seeded: LinearSandbox) -> None:
    issue = seeded.issue("ENG-1")
    label = seeded.labels[issue.label_ids[0]]
    team = seeded.teams[issue.team_id]
    state = seeded.workflow_states[issue.state_id]
    schema = linear_schema()
    nodes = {
        "Issue": seeded._issue_node(issue),
        "IssueLabel": seeded._label_node(label),
        "Team": seeded._team_node(team),
        "WorkflowState": seeded._state_node(state),
    }

    for type_name, node in nodes.items():
        assert set(node) <= set(getattr(schema.type_map[type_name], "fields", {})), type_name


def test_seeding_refuses_what_linear_would(linear_workspace: LinearSandbox) -> None:
    with pytest.raises(ValueError, match="already exists in the team"):
        linear_workspace.add_label("AI-IMPLEMENT", team_key="OPS")
    with pytest.raises(ValueError, match="not one of Linear's"):
        linear_workspace.add_workflow_state("ENG", "Cancelled", "cancelled")
    with pytest.raises(KeyError, match="no label 'Nope'"):
        linear_workspace.add_issue("ENG", "x", labels=["Nope"])
    with pytest.raises(KeyError, match="no team with key 'XYZ'"):
        linear_workspace.add_issue("XYZ", "x")
    with pytest.raises(ValueError, match="upper-case"):
        linear_workspace.add_team("eng")


def test_children_of_one_group_are_exclusive(linear_workspace: LinearSandbox) -> None:
    size = linear_workspace.add_label("Size", team_key="ENG", is_group=True)
    small = linear_workspace.add_label("S", team_key="ENG", parent=size)
    large = linear_workspace.add_label("L", team_key="ENG", parent=size)
    issue = linear_workspace.add_issue("ENG", "x", labels=[small])

    linear_workspace.update_issue(issue, add_labels=[large])

    assert linear_workspace.labels_of(issue) == ["L"]


def test_state_times_follow_the_state_type(linear_workspace: LinearSandbox, fake_time: FakeTime) -> None:
    issue = linear_workspace.add_issue("ENG", "x")
    fake_time.now += 1
    linear_workspace.update_issue(issue, state="In Progress")
    fake_time.now += 1
    linear_workspace.update_issue(issue, state="Canceled")

    assert issue.started_at == issue.created_at + 1
    assert issue.canceled_at == issue.created_at + 2
    assert issue.completed_at is None
