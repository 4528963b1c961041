"""The ticket side of runs against the Jira sandbox: completing a merged ticket, resetting one for a fresh run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from controller.operator.runs.ticket_updates import JiraTickets, TicketCannotMove
from controller.resources.dispatch import IssueRef
from controller.sandbox import JiraSandbox
from controller.sandbox.jira.state import JiraWorkflow
from controller.ticketing.jira import JiraClient
from tests.operator.conftest import JIRA_CLOUD_ID, JIRA_SITE_URL, JIRA_TOKEN


@pytest.fixture
async def tickets(jira: JiraSandbox) -> AsyncIterator[JiraTickets]:
    async with JiraClient(JIRA_TOKEN, JIRA_CLOUD_ID, site_url=JIRA_SITE_URL, gateway_url=str(jira.url)) as client:
        yield JiraTickets(client)


def ref(key: str) -> IssueRef:
    return IssueRef(provider="jira", id=key, identifier=key)


async def test_a_merged_ticket_in_review_moves_to_done_not_to_wont_do(jira: JiraSandbox, tickets: JiraTickets) -> None:
    issue = jira.add_issue("PAY", "Refund flow", status="In Review")

    await tickets.complete(ref(issue.key))

    assert await tickets.status_of(ref(issue.key)) == "Done"


async def test_a_ticket_with_no_way_to_done_says_to_close_it_by_hand(jira: JiraSandbox, tickets: JiraTickets) -> None:
    issue = jira.add_issue("PAY", "Refund flow", status="Implementing")

    with pytest.raises(TicketCannotMove, match="close it by hand"):
        await tickets.complete(ref(issue.key))

    assert await tickets.status_of(ref(issue.key)) == "Implementing"


TWO_WAYS_BACK = JiraWorkflow.build(
    {"To Do": "new", "Backlog": "new", "Blocked": "indeterminate", "Implementing": "indeterminate", "Done": "done"},
    [
        ("Start implementing", ["To Do", "Backlog", "Blocked"], "Implementing"),
        ("Stop implementing", "Implementing", "To Do"),
        ("Shelve", "Implementing", "Backlog"),
        ("Finish", "Implementing", "Done"),
    ],
)


@pytest.mark.parametrize(
    ("before", "after"),
    [("Backlog", "Backlog"), ("Blocked", "To Do"), (None, "To Do")],
    ids=["back-where-it-was", "no-way-back-so-to-do", "unknown-so-to-do"],
)
async def test_a_reset_moves_the_ticket_back_or_else_to_a_to_do_status(
    jira: JiraSandbox, before: str | None, after: str
) -> None:
    jira.add_project("OPS", workflow=TWO_WAYS_BACK)
    issue = jira.add_issue("OPS", "Rotate keys", status="Implementing")
    async with JiraClient(JIRA_TOKEN, JIRA_CLOUD_ID, site_url=JIRA_SITE_URL, gateway_url=str(jira.url)) as client:
        tickets = JiraTickets(client)

        await tickets.reset(ref(issue.key), before)

        assert await tickets.status_of(ref(issue.key)) == after


async def test_a_reset_without_the_earlier_status_moves_to_a_to_do_status(
    jira: JiraSandbox, tickets: JiraTickets
) -> None:
    issue = jira.add_issue("PAY", "Refund flow", status="Implementing")

    await tickets.reset(ref(issue.key), None)

    assert await tickets.status_of(ref(issue.key)) == "To Do"


async def test_a_reset_leaves_a_ticket_someone_moved_on(jira: JiraSandbox, tickets: JiraTickets) -> None:
    issue = jira.add_issue("PAY", "Refund flow", status="In Review")

    await tickets.reset(ref(issue.key), None)

    assert await tickets.status_of(ref(issue.key)) == "In Review"


async def test_a_reset_with_no_way_back_to_to_do_says_to_move_it_by_hand(jira: JiraSandbox) -> None:
    workflow = JiraWorkflow.build(
        {"To Do": "new", "Implementing": "indeterminate", "Done": "done"},
        [("Start implementing", "To Do", "Implementing"), ("Finish", "Implementing", "Done")],
    )
    jira.add_project("OPS", workflow=workflow)
    issue = jira.add_issue("OPS", "Rotate keys", status="Implementing")
    async with JiraClient(JIRA_TOKEN, JIRA_CLOUD_ID, site_url=JIRA_SITE_URL, gateway_url=str(jira.url)) as client:
        tickets = JiraTickets(client)
        with pytest.raises(TicketCannotMove, match="move it by hand"):
            await tickets.reset(ref(issue.key), None)
        assert await tickets.status_of(ref(issue.key)) == "Implementing"
