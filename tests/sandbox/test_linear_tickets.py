"""Polling Linear for AI tickets: one paginated query per poll, routed to scopes afterwards."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from graphql import parse
from graphql.utilities import get_operation_ast

from controller.httpclient import RetryPolicy
from controller.sandbox import LinearSandbox, linear_schema
from controller.sandbox.linear import DEFAULT_WORKFLOW_STATES, estimate_complexity, format_linear_time
from controller.ticketing.linear import LinearClient, LinearError
from controller.ticketing.linear.client import COMPLEXITY_MARGIN
from controller.ticketing.linear.documents import AI_ISSUES_QUERY
from controller.ticketing.model import StateCategory, Ticket, TicketScope, TicketSource
from tests.sandbox.conftest import LINEAR_KEY, SECRETS, quick_transport
from tests.sandbox.support import START, FakeTime, assert_no_secrets


def scopes(*team_keys: str) -> list[TicketScope]:
    return [TicketScope(team_key=key, route_key=key) for key in team_keys]


def poll_variables(sandbox: LinearSandbox) -> list[dict[str, Any]]:
    """The variables of every poll page the sandbox received."""
    return [
        request.json()["variables"] for request in sandbox.requests if request.json().get("operationName") == "AiIssues"
    ]


def by_identifier(tickets: list[Ticket]) -> dict[str, Ticket]:
    return {ticket.identifier: ticket for ticket in tickets}


def test_the_client_is_a_ticket_source(linear: LinearClient) -> None:
    source: TicketSource = linear

    assert source.provider == "linear"


async def test_a_poll_finds_labelled_issues_and_maps_every_field(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    issue = linear_workspace.add_issue(
        "ENG", "Add dark mode", description="Use **CSS** variables.", labels=["AI-Implement", "Bug"]
    )
    linear_workspace.add_issue("ENG", "Not for the robot", labels=["Bug"])

    [ticket] = await linear.fetch_ai_tickets(scopes("ENG"))

    assert ticket == Ticket(
        provider="linear",
        id=issue.id,
        identifier="ENG-1",
        title="Add dark mode",
        url="https://linear.app/acme/issue/ENG-1",
        state_name="Todo",
        state=StateCategory.UNSTARTED,
        labels=frozenset({"AI-Implement", "Bug"}),
        updated_at=datetime.fromtimestamp(START, UTC),
        route_key="ENG",
        description="Use **CSS** variables.",
    )
    assert ticket.updated_at.tzinfo is not None


async def test_the_label_filter_spans_teams_and_ignores_case(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    linear_workspace.add_issue("ENG", "workspace label", labels=["AI-Implement"])
    linear_workspace.add_issue("OPS", "team label spelled in lower case", labels=["ai-implement"])
    linear_workspace.add_issue("WEB", "workspace label in a third team", labels=["AI-Implement"])
    linear_workspace.add_issue("OPS", "no AI label", labels=["Bug"])

    tickets = await linear.fetch_ai_tickets(scopes("ENG", "OPS", "WEB"))

    assert sorted(ticket.identifier for ticket in tickets) == ["ENG-1", "OPS-1", "WEB-1"]
    [variables] = poll_variables(linear_workspace)
    assert variables == {
        "filter": {"labels": {"name": {"eqIgnoreCase": "AI-Implement"}}},
        "first": 100,
        "after": None,
    }, "the query filters by label only: no team in it"


async def test_only_issues_of_mapped_teams_are_kept(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    for team in ("ENG", "OPS", "WEB"):
        linear_workspace.add_issue(team, f"{team} work", labels=["AI-Implement"])

    tickets = await linear.fetch_ai_tickets(scopes("ENG", "WEB"))

    assert {ticket.route_key for ticket in tickets} == {"ENG", "WEB"}


async def test_no_scopes_means_no_request(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    assert await linear.fetch_ai_tickets([]) == []
    assert linear_workspace.requests == []


async def test_archived_and_deleted_issues_are_not_polled(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    linear_workspace.add_issue("ENG", "live", labels=["AI-Implement"])
    linear_workspace.archive_issue(linear_workspace.add_issue("ENG", "archived", labels=["AI-Implement"]))
    linear_workspace.delete_issue(linear_workspace.add_issue("ENG", "deleted", labels=["AI-Implement"]))

    tickets = await linear.fetch_ai_tickets(scopes("ENG"))

    assert [ticket.title for ticket in tickets] == ["live"]


async def test_every_workflow_state_type_maps_to_a_category(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    linear_workspace.add_workflow_state("ENG", "Triage", "triage")
    names = [name for name, _ in DEFAULT_WORKFLOW_STATES] + ["Triage"]
    for name in names:
        linear_workspace.add_issue("ENG", name, state=name, labels=["AI-Implement"])

    tickets = await linear.fetch_ai_tickets(scopes("ENG"))

    assert {ticket.state_name: ticket.state for ticket in tickets} == {
        "Triage": StateCategory.TRIAGE,
        "Backlog": StateCategory.BACKLOG,
        "Todo": StateCategory.UNSTARTED,
        "In Progress": StateCategory.STARTED,
        "In Review": StateCategory.STARTED,
        "Done": StateCategory.COMPLETED,
        "Canceled": StateCategory.CANCELLED,
        "Duplicate": StateCategory.CANCELLED,
    }


async def test_states_narrow_the_query_to_their_linear_types(
    linear: LinearClient, linear_workspace: LinearSandbox
) -> None:
    for name in ("Backlog", "Todo", "In Progress", "Done", "Canceled", "Duplicate"):
        linear_workspace.add_issue("ENG", name, state=name, labels=["AI-Implement"])

    tickets = await linear.fetch_ai_tickets(scopes("ENG"), states=[StateCategory.STARTED, StateCategory.CANCELLED])

    assert sorted(ticket.state_name for ticket in tickets) == ["Canceled", "Duplicate", "In Progress"]
    [variables] = poll_variables(linear_workspace)
    assert variables["filter"]["state"] == {"type": {"in": ["canceled", "duplicate", "started"]}}


async def test_250_issues_take_three_pages_of_100(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    for number in range(250):
        linear_workspace.add_issue("ENG", f"issue {number}", labels=["AI-Implement"])

    tickets = await linear.fetch_ai_tickets(scopes("ENG"))

    assert len({ticket.id for ticket in tickets}) == 250
    pages = poll_variables(linear_workspace)
    assert [page["first"] for page in pages] == [100, 100, 100]
    assert pages[0]["after"] is None
    assert None not in (pages[1]["after"], pages[2]["after"])
    assert pages[1]["after"] != pages[2]["after"]


@pytest.mark.parametrize("mapped_teams", [1, 200])
async def test_one_poll_costs_the_same_requests_whatever_the_number_of_scopes(
    linear: LinearClient, linear_workspace: LinearSandbox, mapped_teams: int
) -> None:
    for number in range(150):
        linear_workspace.add_issue(("ENG", "OPS")[number % 2], f"issue {number}", labels=["AI-Implement"])
    many = scopes("ENG", *(f"T{index}" for index in range(mapped_teams - 1)))

    tickets = await linear.fetch_ai_tickets(many)

    assert len(tickets) == 75
    assert len(linear_workspace.requests) == 2, "ceil(150 labelled issues / 100 a page), however many scopes"
    assert all(len(request.body) < 2_000 for request in linear_workspace.requests), "no team list in the query"


async def test_a_smaller_page_size_pages_more(linear_workspace: LinearSandbox, retry: RetryPolicy) -> None:
    for number in range(5):
        linear_workspace.add_issue("ENG", f"issue {number}", labels=["AI-Implement"])
    endpoint = f"{linear_workspace.url}/graphql"
    async with LinearClient(
        LINEAR_KEY, endpoint=endpoint, retry=retry, page_size=2, transport=quick_transport()
    ) as client:
        tickets = await client.fetch_ai_tickets(scopes("ENG"))

    assert len(tickets) == 5
    assert len(linear_workspace.requests) == 3


async def test_a_custom_ai_label_is_what_the_poll_asks_for(linear_workspace: LinearSandbox, retry: RetryPolicy) -> None:
    linear_workspace.add_label("robot", team_key="ENG")
    linear_workspace.add_issue("ENG", "for the robot", labels=["robot"])
    linear_workspace.add_issue("ENG", "for the default label", labels=["AI-Implement"])
    endpoint = f"{linear_workspace.url}/graphql"
    async with LinearClient(
        LINEAR_KEY, endpoint=endpoint, retry=retry, ai_label="Robot", transport=quick_transport()
    ) as client:
        [ticket] = await client.fetch_ai_tickets(scopes("ENG"))

    assert ticket.title == "for the robot"


def test_page_sizes_above_100_are_refused() -> None:
    with pytest.raises(ValueError, match="between 1 and 100"):
        LinearClient(LINEAR_KEY, page_size=250)


async def test_a_spent_request_budget_is_waited_for_in_milliseconds(
    fake_time: FakeTime, retry: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox = LinearSandbox(clock=fake_time.clock, request_limit=2, period=60.0)
    sandbox.add_user("Ada Lovelace", "ada@example.com", api_key=LINEAR_KEY)
    sandbox.add_team("ENG")
    sandbox.add_label("AI-Implement")
    for number in range(250):
        sandbox.add_issue("ENG", f"issue {number}", labels=["AI-Implement"])
    async with (
        sandbox.running() as url,
        LinearClient(LINEAR_KEY, endpoint=f"{url}/graphql", retry=retry, transport=quick_transport()) as client,
    ):
        tickets = await client.fetch_ai_tickets(scopes("ENG"))

    assert len(tickets) == 250
    assert len(sandbox.requests) == 4, "the third page was refused once, then answered"
    refused = sandbox.requests[2]
    assert refused.json()["variables"]["after"] == sandbox.requests[3].json()["variables"]["after"]
    assert fake_time.sleeps == [pytest.approx(60.0)], "until the bucket is empty: 60 s, not 60,000 s or 0.06 s"
    assert_no_secrets(SECRETS, records=caplog.records)


async def test_a_spent_complexity_budget_is_waited_for_too(fake_time: FakeTime, retry: RetryPolicy) -> None:
    sandbox = LinearSandbox(clock=fake_time.clock, complexity_limit=4_000, period=100.0)
    sandbox.add_user("Ada Lovelace", "ada@example.com", api_key=LINEAR_KEY)
    sandbox.add_team("ENG")
    sandbox.add_label("AI-Implement")
    for number in range(150):
        sandbox.add_issue("ENG", f"issue {number}", labels=["AI-Implement"])
    async with (
        sandbox.running() as url,
        LinearClient(LINEAR_KEY, endpoint=f"{url}/graphql", retry=retry, transport=quick_transport()) as client,
    ):
        tickets = await client.fetch_ai_tickets(scopes("ENG"))

    assert len(tickets) == 150
    [_, refused, answered] = sandbox.requests
    assert refused.json() == answered.json()
    document = parse(AI_ISSUES_QUERY)
    operation = get_operation_ast(document)
    assert operation is not None
    cost = estimate_complexity(linear_schema(), document, operation, {"first": 100})
    shortfall = cost - (4_000 - cost) + COMPLEXITY_MARGIN
    assert fake_time.sleeps == [pytest.approx(shortfall / 40.0)], "until 40 points/s refill what the page lacks"


async def test_a_ticket_by_identifier_or_uuid(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    issue = linear_workspace.add_issue("OPS", "Rotate keys", state="In Progress", labels=["ai-implement"])

    by_key = await linear.ticket("OPS-1")
    by_uuid = await linear.ticket(issue.id)

    assert by_key is not None
    assert by_key == by_uuid
    assert (by_key.id, by_key.state, by_key.route_key) == (issue.id, StateCategory.STARTED, "OPS")
    assert by_key.labels == {"ai-implement"}


async def test_a_ticket_sees_changes_made_after_the_poll(
    linear: LinearClient, linear_workspace: LinearSandbox, fake_time: FakeTime
) -> None:
    linear_workspace.add_issue("ENG", "Ship it", labels=["AI-Implement"])
    [polled] = await linear.fetch_ai_tickets(scopes("ENG"))
    fake_time.now += 30
    linear_workspace.update_issue("ENG-1", state="Done")

    fresh = await linear.ticket("ENG-1")

    assert fresh is not None
    assert fresh.state is StateCategory.COMPLETED
    assert fresh.updated_at > polled.updated_at
    assert format_linear_time(fake_time.now) == fresh.updated_at.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


async def test_an_unknown_or_archived_ticket_is_none(linear: LinearClient, linear_workspace: LinearSandbox) -> None:
    linear_workspace.archive_issue(linear_workspace.add_issue("ENG", "old", labels=["AI-Implement"]))

    assert await linear.ticket("ENG-99") is None
    assert await linear.ticket("6b0e4a52-8a4e-4c41-9d1f-1f1f1f1f1f1f") is None
    assert await linear.ticket("ENG-1") is None


async def test_an_issue_in_an_unknown_state_type_is_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def issue(identifier: str, state_type: str) -> dict[str, object]:
        return {
            "id": f"id-{identifier}",
            "identifier": identifier,
            "title": identifier,
            "url": f"https://linear.app/acme/issue/{identifier}",
            "description": None,
            "updatedAt": "2026-01-02T03:04:00.000Z",
            "archivedAt": None,
            "team": {"id": "team-eng", "key": "ENG"},
            "state": {"id": f"state-{state_type}", "name": state_type.title(), "type": state_type},
            "labels": {"nodes": [{"id": "label-ai", "name": "AI-Implement"}]},
        }

    nodes = [issue("ENG-1", "started"), issue("ENG-2", "parked")]
    page = {"issues": {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": "c1"}}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": page}))
    async with LinearClient(LINEAR_KEY, transport=transport) as client:
        tickets = await client.fetch_ai_tickets(scopes("ENG"))

    assert [ticket.identifier for ticket in tickets] == ["ENG-1"], "one odd issue does not cost every other ticket"
    [warning] = [record for record in caplog.records if record.name == "controller.ticketing.linear"]
    assert warning.levelno == logging.WARNING
    assert "ENG-2" in warning.getMessage()
    assert "'parked'" in warning.getMessage()


async def test_a_page_claiming_more_without_a_new_cursor_stops_the_poll() -> None:
    page = {"issues": {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": "same"}}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": page}))
    async with LinearClient(LINEAR_KEY, transport=transport) as client:
        with pytest.raises(LinearError, match="repeated endCursor"):
            await client.fetch_ai_tickets(scopes("ENG"))


async def test_links_follow_the_workspace_url_when_one_is_given(linear_workspace: LinearSandbox) -> None:
    linear_workspace.add_issue("ENG", "Linked", labels=["AI-Implement"])
    endpoint = f"{linear_workspace.url}/graphql"
    async with LinearClient(LINEAR_KEY, endpoint=endpoint, workspace_url="https://linear.example.com/acme/") as client:
        (ticket,) = await client.fetch_ai_tickets([TicketScope(team_key="ENG", route_key="ENG")])
    assert ticket.url == "https://linear.example.com/acme/issue/ENG-1"
