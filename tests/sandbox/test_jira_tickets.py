"""The Jira poll against the sandbox: one search for every mapping, paged, routed back by repo field value."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from controller.httpclient import RetryPolicy
from controller.sandbox import Fault, JiraSandbox
from controller.sandbox.jira import JiraWorkflow
from controller.ticketing.jira import MAX_JQL_CHARS, JiraClient
from controller.ticketing.model import StateCategory, Ticket, TicketScope, TicketSource
from tests.sandbox.conftest import JIRA_CLOUD_ID, JIRA_SITE_URL, JIRA_TOKEN
from tests.sandbox.support import START, FakeTime

API = f"/ex/jira/{JIRA_CLOUD_ID}/rest/api/3"
SEARCH = f"{API}/search/jql"
MATCH = f"{API}/jql/match"
AI = "AI-Implement"


def scope(team: str, jql: str, route_key: str, repo_field: str = "customfield_10042") -> TicketScope:
    return TicketScope(team_key=team, route_key=route_key, jql=jql, repo_field=repo_field)


def routed(tickets: list[Ticket]) -> set[tuple[str, str]]:
    return {(ticket.identifier, ticket.route_key) for ticket in tickets}


def searches(sandbox: JiraSandbox) -> list[dict[str, object]]:
    return [request.json() for request in sandbox.requests_to("POST", SEARCH)]


async def test_one_search_for_every_mapping_routes_issues_by_their_repo_field(
    jira: JiraClient, jira_site: JiraSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="controller.ticketing.jira")
    jira_site.add_issue("ENG", "Select a", labels=[AI], fields={"Repo": "repo-a"})
    jira_site.add_issue("ENG", "Select b", labels=[AI, "backend"], fields={"Repo": "repo-b"})
    jira_site.add_issue("ENG", "Not labelled", fields={"Repo": "repo-a"})
    jira_site.add_issue("ENG", "No mapping has repo-c", labels=[AI], fields={"Repo": "repo-c"})
    jira_site.add_issue("OPS", "Text field", labels=[AI], fields={"Repo Name": "svc-ops"})
    jira_site.add_issue("WEB", "Multi-select", labels=[AI], fields={"Repos": ["docs", "web-app"]})
    jira_site.add_issue("WEB", "Out of every JQL", labels=[AI], fields={"Repo": "repo-a"}, status="Done")
    scopes = [
        scope("A", "project = ENG ORDER BY created DESC", "repo-a"),
        scope("B", "project = ENG", "repo-b"),
        scope("OPS", "project = OPS", "svc-ops", repo_field="customfield_10043"),
        scope("WEB", "project = WEB AND statusCategory != Done", "web-app", repo_field="cf[10044]"),
    ]

    tickets = await jira.fetch_ai_tickets(scopes)

    assert routed(tickets) == {("ENG-1", "repo-a"), ("ENG-2", "repo-b"), ("OPS-1", "svc-ops"), ("WEB-1", "web-app")}
    [search] = searches(jira_site)
    assert search["jql"] == (
        'labels = "AI-Implement" AND ((project = ENG) OR (project = OPS) OR (project = WEB AND statusCategory != Done))'
    )
    assert search["fields"] == [
        "summary",
        "status",
        "labels",
        "updated",
        "description",
        "customfield_10042",
        "customfield_10043",
        "customfield_10044",
    ]
    assert "startAt" not in search
    [unrouted] = [record for record in caplog.records if "no mapping's own JQL and repo" in record.getMessage()]
    assert "ENG-4" in unrouted.getMessage()


async def test_a_ticket_goes_only_to_a_mapping_whose_own_jql_selects_it(
    jira: JiraClient, jira_site: JiraSandbox
) -> None:
    """The repo field alone is no boundary: an ENG ticket naming OPS's repository stays out of OPS."""
    jira_site.add_issue("ENG", "Ours", labels=[AI], fields={"Repo": "repo-a"})
    jira_site.add_issue("ENG", "Borrows repo-b", labels=[AI], fields={"Repo": "repo-b"})
    jira_site.add_issue("OPS", "Theirs", labels=[AI], fields={"Repo": "repo-b"})
    scopes = [scope("A", "project = ENG", "repo-a"), scope("B", "project = OPS", "repo-b")]

    tickets = await jira.fetch_ai_tickets(scopes)
    one = await jira.ticket("ENG-2", scopes)

    assert routed(tickets) == {("ENG-1", "repo-a"), ("OPS-1", "repo-b")}
    assert one is not None
    assert one.route_key == "", "read one at a time (a webhook), it still belongs to no mapping"
    [match] = [request.json() for request in jira_site.requests_to("POST", MATCH)][:1]
    assert match["jqls"] == ["project = ENG", "project = OPS"]


async def test_an_issue_without_the_ai_label_is_never_routed(
    jira: JiraClient, jira_site: JiraSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Even when a clause escapes its parentheses (the API and the poller refuse one; the client does not
    rely on that), what comes back without the AI label is dropped."""
    jira_site.add_issue("ENG", "Labelled", labels=[AI], fields={"Repo": "repo-a"})
    jira_site.add_issue("OPS", "Never labelled", fields={"Repo": "repo-b"})
    scopes = [scope("A", "project = ENG", "repo-a"), scope("B", "project = ENG)) OR ((project = OPS", "repo-b")]

    tickets = await jira.fetch_ai_tickets(scopes)

    assert routed(tickets) == {("ENG-1", "repo-a")}
    assert any(
        "without the label" in record.getMessage() and "OPS-1" in record.getMessage() for record in caplog.records
    )


async def test_the_client_is_the_jira_ticket_source() -> None:
    async with JiraClient(JIRA_TOKEN, JIRA_CLOUD_ID, site_url=JIRA_SITE_URL) as client:
        source: TicketSource = client
        assert source.provider == "jira"
        assert await source.fetch_ai_tickets([]) == []


async def test_a_ticket_carries_what_the_decision_needs(jira: JiraClient, jira_site: JiraSandbox) -> None:
    description = "Add retries to the importer.\n\nSee https://example.com/spec for details."
    issue = jira_site.add_issue(
        "ENG", "Retry imports", description=description, labels=[AI, "p1"], fields={"Repo": "repo-a"}
    )

    [ticket] = await jira.fetch_ai_tickets([scope("A", "project = ENG", "repo-a")])

    assert ticket == Ticket(
        provider="jira",
        id=issue.id,
        identifier="ENG-1",
        title="Retry imports",
        url=f"{JIRA_SITE_URL}/browse/ENG-1",
        state_name="To Do",
        state=StateCategory.UNSTARTED,
        labels=frozenset({AI, "p1"}),
        updated_at=datetime.fromtimestamp(START, UTC),
        route_key="repo-a",
        description=description,
    )
    assert issue.id.isdigit()


async def test_a_multi_value_field_routes_an_issue_to_each_scope_it_names(
    jira: JiraClient, jira_site: JiraSandbox
) -> None:
    jira_site.add_issue("WEB", "Both", labels=[AI], fields={"Repos": ["docs", "web-app"]})
    scopes = [
        scope("WEB", "project = WEB", "web-app", repo_field="customfield_10044"),
        scope("DOCS", "project = WEB", "docs", repo_field="customfield_10044"),
    ]

    tickets = await jira.fetch_ai_tickets(scopes)

    assert routed(tickets) == {("WEB-1", "web-app"), ("WEB-1", "docs")}
    assert len(searches(jira_site)) == 1


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("To Do", StateCategory.UNSTARTED),
        ("Implementing", StateCategory.STARTED),
        ("In Review", StateCategory.STARTED),
        ("Done", StateCategory.COMPLETED),
        ("Won't Do", StateCategory.CANCELLED),
    ],
)
async def test_status_categories_map_to_states(
    jira: JiraClient, jira_site: JiraSandbox, status: str, state: StateCategory
) -> None:
    jira_site.add_issue("ENG", "Somewhere", labels=[AI], fields={"Repo": "repo-a"}, status=status)

    [ticket] = await jira.fetch_ai_tickets([scope("A", "project = ENG", "repo-a")])

    assert (ticket.state_name, ticket.state) == (status, state)


async def test_a_status_without_a_category_counts_as_unstarted(jira: JiraClient, jira_site: JiraSandbox) -> None:
    workflow = JiraWorkflow.build({"Limbo": "undefined", "Closed": "done"}, [("Close", "Limbo", "Closed")])
    jira_site.add_project("ODD", workflow=workflow)
    jira_site.add_issue("ODD", "Odd one", labels=[AI], fields={"Repo": "repo-a"})

    [ticket] = await jira.fetch_ai_tickets([scope("ODD", "project = ODD", "repo-a")])

    assert (ticket.state_name, ticket.state) == ("Limbo", StateCategory.UNSTARTED)


async def test_every_page_is_read_through_next_page_tokens(jira: JiraClient, jira_site: JiraSandbox) -> None:
    jira_site.search_page_limit = 2
    for number in range(5):
        jira_site.add_issue("ENG", f"Issue {number}", labels=[AI], fields={"Repo": "repo-a"})

    tickets = await jira.fetch_ai_tickets([scope("A", "project = ENG", "repo-a")])

    assert [ticket.identifier for ticket in tickets] == [f"ENG-{n}" for n in range(1, 6)]
    pages = searches(jira_site)
    assert len(pages) == 3
    assert "nextPageToken" not in pages[0]
    assert pages[1]["nextPageToken"]
    assert pages[2]["nextPageToken"] != pages[1]["nextPageToken"]
    assert {page["jql"] for page in pages} == {pages[0]["jql"]}


async def test_one_scope_costs_one_search(jira: JiraClient, jira_site: JiraSandbox) -> None:
    jira_site.add_issue("ENG", "One", labels=[AI], fields={"Repo": "repo-a"})

    await jira.fetch_ai_tickets([scope("A", "project = ENG", "repo-a")])

    assert len(jira_site.requests) == 1
    assert searches(jira_site)[0]["jql"] == 'labels = "AI-Implement" AND ((project = ENG))'


async def test_two_hundred_scopes_sharing_a_jql_cost_one_search(jira: JiraClient, jira_site: JiraSandbox) -> None:
    jira_site.add_issue("ENG", "One", labels=[AI], fields={"Repo": "repo-b"})
    scopes = [scope(f"T{n}", "project = ENG", f"repo-{n}") for n in range(198)]
    scopes += [scope("A", "project = ENG", "repo-a"), scope("B", "project = ENG", "repo-b")]

    tickets = await jira.fetch_ai_tickets(scopes)

    assert routed(tickets) == {("ENG-1", "repo-b")}
    assert len(jira_site.requests) == 1


async def test_two_hundred_distinct_scopes_are_split_into_a_few_bounded_searches(
    jira: JiraClient, jira_site: JiraSandbox
) -> None:
    jira_site.search_page_limit = 2
    repos = ("repo-a", "repo-b", "repo-c")
    for n in (7, 150, 200 - 1):
        jira_site.add_issue("ENG", f"area {n} work", labels=[AI], fields={"Repo": repos[n % 3]})
    clauses = [f'project = ENG AND summary ~ "area {n} work"' for n in range(200)]
    scopes = [scope(f"T{n}", clause, repos[n % 3]) for n, clause in enumerate(clauses)]

    tickets = await jira.fetch_ai_tickets(scopes)

    sent = [str(search["jql"]) for search in searches(jira_site) if "nextPageToken" not in search]
    combined = sum(len(clause) + 6 for clause in clauses)
    assert 1 < len(sent) <= combined // MAX_JQL_CHARS + 2, "a handful of searches, not one per scope"
    assert all(len(jql) <= MAX_JQL_CHARS for jql in sent)
    assert sorted(clause for jql in sent for clause in clauses if f"({clause})" in jql) == sorted(clauses)
    assert routed(tickets) == {("ENG-1", "repo-b"), ("ENG-2", "repo-a"), ("ENG-3", "repo-b")}
    [match] = [request.json() for request in jira_site.requests_to("POST", MATCH)]
    assert (len(match["issueIds"]), len(match["jqls"])) == (3, 200), "one match call for every combined query"


async def test_an_issue_found_by_two_split_searches_is_one_ticket(
    jira_sandbox: JiraSandbox, retry: RetryPolicy
) -> None:
    jira_sandbox.add_project("ENG")
    jira_sandbox.add_field("Repo", options=["repo-a"])
    jira_sandbox.add_issue("ENG", "Both", labels=[AI], fields={"Repo": "repo-a"})
    scopes = [
        scope("A", 'project = ENG AND summary ~ "Both" AND statusCategory != Done', "repo-a"),
        scope("B", 'labels = AI-Implement AND summary ~ "Both" AND issuetype = Task', "repo-a"),
    ]
    assert jira_sandbox.url is not None
    async with JiraClient(
        JIRA_TOKEN, JIRA_CLOUD_ID, site_url=JIRA_SITE_URL, gateway_url=jira_sandbox.url, retry=retry, max_jql_chars=100
    ) as client:
        tickets = await client.fetch_ai_tickets(scopes)

    assert routed(tickets) == {("ENG-1", "repo-a")}
    assert len(searches(jira_sandbox)) == 2


async def test_a_rate_limited_search_is_waited_out_in_seconds(
    jira: JiraClient, jira_site: JiraSandbox, fake_time: FakeTime
) -> None:
    jira_site.add_issue("ENG", "One", labels=[AI], fields={"Repo": "repo-a"})
    jira_site.inject(Fault.rate_limited(wait=7, path=SEARCH))

    tickets = await jira.fetch_ai_tickets([scope("A", "project = ENG", "repo-a")])

    assert fake_time.sleeps == [7.0]
    assert routed(tickets) == {("ENG-1", "repo-a")}
    assert len(searches(jira_site)) == 2


async def test_search_is_eventually_consistent_and_the_issue_read_is_not(
    jira: JiraClient, jira_site: JiraSandbox, fake_time: FakeTime
) -> None:
    jira_site.search_lag = 5.0
    jira_site.add_issue("ENG", "Fresh", labels=[AI], fields={"Repo": "repo-a"})
    scopes = [scope("A", "project = ENG", "repo-a")]

    assert await jira.fetch_ai_tickets(scopes) == []
    fresh = await jira.ticket("ENG-1", scopes)
    assert fresh is not None
    assert fresh.route_key == "repo-a"

    await fake_time.sleep(5.0)
    assert routed(await jira.fetch_ai_tickets(scopes)) == {("ENG-1", "repo-a")}


async def test_a_single_ticket_is_read_by_key_or_id_and_routed_by_the_scopes_given(
    jira: JiraClient, jira_site: JiraSandbox
) -> None:
    issue = jira_site.add_issue("OPS", "Webhook said so", labels=[AI], fields={"Repo Name": "svc-ops"})
    scopes = [scope("A", "project = ENG", "repo-a"), scope("OPS", "project = OPS", "svc-ops", "customfield_10043")]

    by_key = await jira.ticket("ops-1", scopes)
    by_id = await jira.ticket(issue.id)

    assert by_key is not None
    assert (by_key.identifier, by_key.route_key, by_key.title) == ("OPS-1", "svc-ops", "Webhook said so")
    assert by_id is not None
    assert (by_id.identifier, by_id.route_key) == ("OPS-1", "")
    assert await jira.ticket("OPS-99") is None
    [first, *_] = jira_site.requests_to("GET", f"{API}/issue/ops-1")
    assert first.query["fields"] == "summary,status,labels,updated,description,customfield_10042,customfield_10043"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (TicketScope("ENG", "repo-a", jql=None, repo_field="customfield_10042"), "has no jql"),
        (TicketScope("ENG", "repo-a", jql="project = ENG", repo_field=None), "has no repo_field"),
        (TicketScope("ENG", " ", jql="project = ENG", repo_field="customfield_10042"), "empty repo field value"),
    ],
)
async def test_a_scope_without_what_jira_needs_is_refused_before_any_call(
    jira: JiraClient, jira_site: JiraSandbox, broken: TicketScope, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await jira.fetch_ai_tickets([broken])

    assert jira_site.requests == []


async def test_tickets_need_the_site_url_for_their_links(jira_site: JiraSandbox, retry: RetryPolicy) -> None:
    jira_site.add_issue("ENG", "One", labels=[AI], fields={"Repo": "repo-a"})
    assert jira_site.url is not None
    async with JiraClient(JIRA_TOKEN, JIRA_CLOUD_ID, gateway_url=jira_site.url, retry=retry) as client:
        with pytest.raises(ValueError, match="site_url"):
            await client.fetch_ai_tickets([scope("A", "project = ENG", "repo-a")])


async def test_the_ai_label_is_the_clients_to_choose(jira_site: JiraSandbox, retry: RetryPolicy) -> None:
    jira_site.add_issue("ENG", "Custom label", labels=["robot-work"], fields={"Repo": "repo-a"})
    jira_site.add_issue("ENG", "Default label", labels=[AI], fields={"Repo": "repo-a"})
    assert jira_site.url is not None
    async with JiraClient(
        JIRA_TOKEN, JIRA_CLOUD_ID, site_url=JIRA_SITE_URL, gateway_url=jira_site.url, retry=retry, ai_label="robot-work"
    ) as client:
        tickets = await client.fetch_ai_tickets([scope("A", "project = ENG", "repo-a")])

    assert routed(tickets) == {("ENG-1", "repo-a")}
