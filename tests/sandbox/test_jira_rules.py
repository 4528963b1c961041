"""The pure parts of the Jira client, table by table: JQL building and splitting, routing, states, ADF."""

from __future__ import annotations

from typing import Any

import pytest

from controller.sandbox.jira import JiraSandbox, JqlError, parse_jql
from controller.sandbox.jira.jql import matcher, matches
from controller.ticketing.jira import (
    DEFAULT_CANCELLED_STATUSES,
    adf_document,
    adf_text,
    ai_ticket_queries,
    field_values,
    quote_jql_string,
    repo_field_id,
    route_keys,
    state_category,
    without_order_by,
)
from controller.ticketing.model import StateCategory, TicketScope


@pytest.mark.parametrize(
    ("jql", "restriction"),
    [
        ("project = ENG", "project = ENG"),
        ("project = ENG ORDER BY created DESC", "project = ENG"),
        ("project = ENG order\n by key", "project = ENG"),
        ('summary ~ "order by" AND project = ENG', 'summary ~ "order by" AND project = ENG'),
        ("summary ~ 'sort \\' order by' ORDER BY key", "summary ~ 'sort \\' order by'"),
        ("reorder = 1 ORDER BY key", "reorder = 1"),
        ("ORDER BY key", ""),
        ("  project = ENG  ", "project = ENG"),
    ],
)
def test_order_by_is_cut_outside_quoted_strings_only(jql: str, restriction: str) -> None:
    assert without_order_by(jql) == restriction


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("AI-Implement", '"AI-Implement"'), ('say "hi"', '"say \\"hi\\""'), ("back\\slash", '"back\\\\slash"')],
)
def test_jql_strings_are_quoted_and_escaped(value: str, quoted: str) -> None:
    assert quote_jql_string(value) == quoted
    [clause] = [parse_jql(f"labels = {quoted}").where]
    assert getattr(clause, "values", None) == (value,), "the sandbox's parser reads back what was quoted"


def test_clauses_are_combined_under_the_label_once_each() -> None:
    queries = ai_ticket_queries("AI-Implement", ["project = A", "project = B ORDER BY key", "project = A"])

    assert queries == ['labels = "AI-Implement" AND ((project = A) OR (project = B))']


def test_a_clause_that_selects_everything_makes_the_label_the_whole_query() -> None:
    assert ai_ticket_queries("AI", ["project = A", "ORDER BY key"]) == ['labels = "AI"']


def test_no_clause_means_no_query() -> None:
    assert ai_ticket_queries("AI", []) == []


def test_long_queries_are_split_under_the_bound_and_keep_every_clause() -> None:
    clauses = [f"project = P{n} AND component = C{n}" for n in range(200)]

    queries = ai_ticket_queries("AI", clauses, max_chars=1_000)

    assert all(len(query) <= 1_000 for query in queries)
    assert 7 <= len(queries) <= 9
    found = [clause for query in queries for clause in clauses if f"({clause})" in query]
    assert sorted(found) == sorted(clauses)
    for query in queries:
        assert parse_jql(query).bounded


def test_a_single_clause_longer_than_the_bound_is_sent_alone() -> None:
    huge = "summary ~ " + quote_jql_string("x" * 200)

    queries = ai_ticket_queries("AI", ["project = A", huge, "project = B"], max_chars=100)

    assert queries == [
        'labels = "AI" AND ((project = A))',
        f'labels = "AI" AND (({huge}))',
        'labels = "AI" AND ((project = B))',
    ]


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        ("repo-a", ["repo-a"]),
        ("  repo-a ", ["repo-a"]),
        ({"self": "…", "value": "repo-a", "id": "10200"}, ["repo-a"]),
        ([{"value": "repo-a"}, {"value": "docs"}], ["repo-a", "docs"]),
        (["repo-a", "docs"], ["repo-a", "docs"]),
        (42, ["42"]),
        (None, []),
        (True, []),
        ({"id": "10200"}, []),
        ({"type": "doc", "content": []}, []),
    ],
)
def test_repo_field_values_are_read_from_every_shape(raw: Any, values: list[str]) -> None:
    assert field_values(raw) == values


def test_cf_clause_names_become_field_ids() -> None:
    assert repo_field_id("cf[10042]") == "customfield_10042"
    assert repo_field_id("CF[7]") == "customfield_7"
    assert repo_field_id(" customfield_10042 ") == "customfield_10042"


def test_route_keys_follow_each_scopes_own_field() -> None:
    scopes = [
        TicketScope("A", "repo-a", jql="x = 1", repo_field="customfield_1"),
        TicketScope("B", "repo-b", jql="x = 1", repo_field="cf[2]"),
        TicketScope("A2", "repo-a", jql="x = 2", repo_field="customfield_1"),
        TicketScope("C", "docs", jql="x = 1", repo_field="customfield_3"),
    ]
    fields = {"customfield_1": {"value": "repo-a"}, "customfield_2": ["repo-b", "repo-c"], "customfield_3": None}

    assert route_keys(fields, scopes) == ["repo-a", "repo-b"]


@pytest.mark.parametrize(
    ("category", "name", "state"),
    [
        ("new", "To Do", StateCategory.UNSTARTED),
        ("indeterminate", "Implementing", StateCategory.STARTED),
        ("done", "Done", StateCategory.COMPLETED),
        ("done", "Won't Do", StateCategory.CANCELLED),
        ("done", "CANCELLED", StateCategory.CANCELLED),
        ("done", "Duplicate ", StateCategory.CANCELLED),
        ("indeterminate", "Cancelled", StateCategory.STARTED),
        ("undefined", "Limbo", StateCategory.UNSTARTED),
        ("something-new", "Whatever", StateCategory.UNSTARTED),
        (None, "No category at all", StateCategory.UNSTARTED),
    ],
)
def test_status_categories_and_cancelled_names_decide_the_state(
    category: str | None, name: str, state: StateCategory
) -> None:
    assert state_category(category, name, DEFAULT_CANCELLED_STATUSES) is state


def test_which_done_statuses_are_cancelled_is_configurable() -> None:
    assert state_category("done", "Shelved", ["shelved"]) is StateCategory.CANCELLED
    assert state_category("done", "Won't Do", ["shelved"]) is StateCategory.COMPLETED


def test_plain_text_becomes_paragraphs_line_breaks_and_links() -> None:
    document = adf_document("First line\nsecond: [docs](https://x.example/d)\n\n\nhttps://x.example/a?b=1, done")

    assert document["content"] == [
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "First line"},
                {"type": "hardBreak"},
                {"type": "text", "text": "second: "},
                {"type": "text", "text": "docs", "marks": [{"type": "link", "attrs": {"href": "https://x.example/d"}}]},
            ],
        },
        {
            "type": "paragraph",
            "content": [
                {
                    "type": "text",
                    "text": "https://x.example/a?b=1",
                    "marks": [{"type": "link", "attrs": {"href": "https://x.example/a?b=1"}}],
                },
                {"type": "text", "text": ", done"},
            ],
        },
    ]
    assert adf_text(document) == "First line\nsecond: docs\n\nhttps://x.example/a?b=1, done"


def test_rich_adf_reads_back_as_text() -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Goal"}]},
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Ask "},
                    {"type": "mention", "attrs": {"id": "abc", "text": "@Grace"}},
                    {"type": "text", "text": " "},
                    {"type": "emoji", "attrs": {"shortName": ":tada:", "text": "🎉"}},
                ],
            },
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}],
                    },
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "two"}]}],
                    },
                ],
            },
            {
                "type": "orderedList",
                "attrs": {"order": 3},
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "three"}]}],
                    },
                ],
            },
            {"type": "codeBlock", "attrs": {"language": "python"}, "content": [{"type": "text", "text": "print(1)"}]},
            {"type": "paragraph", "content": [{"type": "inlineCard", "attrs": {"url": "https://x.example/i"}}]},
            {"type": "rule"},
            {"type": "paragraph"},
        ],
    }

    assert adf_text(document) == (
        "Goal\n\nAsk @Grace 🎉\n\n- one\n- two\n\n3. three\n\nprint(1)\n\nhttps://x.example/i\n\n---"
    )


@pytest.mark.parametrize("document", [None, "", 42, [], {"type": "doc"}])
def test_missing_or_odd_descriptions_read_as_little_text(document: Any) -> None:
    assert adf_text(document) == ""


@pytest.mark.parametrize(
    "jql",
    ["project =", "project = ENG AND", "(project = ENG", "project ENG", 'labels = "open', "project in ENG"],
)
def test_the_sandbox_parser_refuses_broken_jql(jql: str) -> None:
    with pytest.raises(JqlError, match=r"^Error in the JQL Query: "):
        parse_jql(jql)


MATCHER_QUERIES = [
    "project = P1",
    "project in (P1, p2) OR project = P3",
    'labels = "AI-Implement" AND (project = P0 OR project = P2 OR project = "Project 3")',
    "project = P1 OR labels = AI-Implement",
    "project != P1",
    "labels is EMPTY OR project = P2",
    'summary ~ "ticket" AND project in (P0, P1)',
    "NOT project = P2",
]


@pytest.mark.parametrize("jql", MATCHER_QUERIES)
def test_the_prepared_matcher_selects_what_matches_selects(jql: str) -> None:
    """The sandbox's fast path for searches over many issues never changes an answer."""
    jira = JiraSandbox()
    jira.add_site("5a1d7c3e-0d1e-4c0f-9a7b-be7c00000009")
    for n in range(4):
        jira.add_project(f"P{n}", f"Project {n}")
    for n in range(24):
        labels = ["AI-Implement"] if n % 3 else []
        jira.add_issue(f"P{n % 4}", f"Ticket {n}", labels=labels)
    (site,) = jira.sites.values()
    query = parse_jql(jql)
    selects = matcher(query.where, site, now=0.0)
    issues = list(site.issues.values())
    expected = [issue.key for issue in issues if matches(query.where, issue, site, now=0.0)]
    assert [issue.key for issue in issues if selects(issue)] == expected
    assert 0 < len(expected) < len(issues), "a query that selects all or nothing would prove little"
