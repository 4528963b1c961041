"""The Jira sandbox against the published platform description and the behaviours a naive fake gets wrong.

Raw HTTP here (no client), so that what is checked is the sandbox's answer itself: each body is
validated against the schema the OpenAPI description declares for that operation and status.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from controller.sandbox import JiraSandbox
from controller.sandbox.jira import parse_jql
from controller.sandbox.jira.jql import Compound
from tests.sandbox.conftest import JIRA_ADMIN_TOKEN, JIRA_CLOUD_ID, JIRA_TOKEN
from tests.sandbox.support import FakeTime, load_spec, schema_problems, spec_schemas

JIRA_SPEC = "jira-platform-openapi.json"
API = f"/ex/jira/{JIRA_CLOUD_ID}/rest/api/3"
JIRA_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def problems(value: Any, schema: str, schemas: Mapping[str, Any] | None = None) -> list[str]:
    return schema_problems(value, {"$ref": f"#/components/schemas/{schema}"}, schemas or spec_schemas(JIRA_SPEC))


def declared(path: str, method: str, status: str) -> str:
    """The schema the description declares for an operation's answer, so the test checks the right one."""
    content = load_spec(JIRA_SPEC)["paths"][f"/rest/api/3{path}"][method]["responses"][status]["content"]
    schema = content["application/json"]["schema"]
    return str((schema.get("items") or schema)["$ref"]).rsplit("/", 1)[-1]


@pytest.fixture
def seeded(jira_site: JiraSandbox) -> JiraSandbox:
    jira_site.add_issue("ENG", "Select", labels=["AI-Implement"], fields={"Repo": "repo-a"}, description="Why.")
    jira_site.add_issue("ENG", "Unlabelled", fields={"Repos": ["docs", "api"]})
    jira_site.add_issue("OPS", "Text", labels=["AI-Implement", "ops"], fields={"Repo Name": "svc-ops"}, status="Done")
    jira_site.add_issue("WEB", "Nothing set")
    return jira_site


@pytest.fixture
async def http(jira_sandbox: JiraSandbox) -> AsyncIterator[httpx.AsyncClient]:
    assert jira_sandbox.url is not None
    headers = {"Authorization": f"Bearer {JIRA_TOKEN}"}
    async with httpx.AsyncClient(base_url=f"{jira_sandbox.url}{API}", headers=headers) as client:
        yield client


async def test_search_answers_only_ids_unless_fields_are_asked_for(
    http: httpx.AsyncClient, seeded: JiraSandbox
) -> None:
    response = await http.post("/search/jql", json={"jql": "project = ENG"})

    assert response.status_code == 200
    body = response.json()
    assert body == {"issues": [{"id": "10000"}, {"id": "10001"}], "isLast": True}
    assert problems(body, declared("/search/jql", "post", "200")) == []


async def test_search_with_fields_validates_and_pages_without_a_total(
    http: httpx.AsyncClient, seeded: JiraSandbox
) -> None:
    seeded.search_page_limit = 2
    fields = ["summary", "status", "labels", "updated", "customfield_10042", "customfield_10043"]

    first = (
        await http.post("/search/jql", json={"jql": "labels is EMPTY OR labels is not EMPTY", "fields": fields})
    ).json()
    token = first["nextPageToken"]
    second = (
        await http.get(
            "/search/jql",
            params={
                "jql": "labels is EMPTY OR labels is not EMPTY",
                "fields": ",".join(fields),
                "nextPageToken": token,
            },
        )
    ).json()

    for page in (first, second):
        assert problems(page, "SearchAndReconcileResults") == []
        assert "total" not in page
        assert "startAt" not in page
    assert first["isLast"] is False
    assert (second["isLast"], "nextPageToken" in second) == (True, False)
    issue = first["issues"][0]
    assert set(issue) == {"expand", "id", "self", "key", "fields"}
    assert set(issue["fields"]) == set(fields)
    assert issue["fields"]["customfield_10043"] is None, "a field asked for but unset is null"
    assert JIRA_TIME.match(issue["fields"]["updated"])
    assert issue["fields"]["status"]["statusCategory"]["key"] == "new"
    assert [issue["key"] for issue in first["issues"] + second["issues"]] == ["ENG-1", "ENG-2", "OPS-1", "WEB-1"]


@pytest.mark.parametrize(
    ("jql", "keys"),
    [
        ('labels = "AI-Implement"', ["ENG-1", "OPS-1"]),
        ("labels = ai-implement", ["ENG-1", "OPS-1"]),
        ("labels != ops", ["ENG-1"]),
        ("labels not in (ops, other)", ["ENG-1"]),
        ("labels is EMPTY", ["ENG-2", "WEB-1"]),
        ("status != Done", ["ENG-1", "ENG-2", "WEB-1"]),
        ("statusCategory = Done", ["OPS-1"]),
        ('status = "to do" AND project in (ENG, WEB)', ["ENG-1", "ENG-2", "WEB-1"]),
        ("NOT project = ENG", ["OPS-1", "WEB-1"]),
        ("project = ENG AND (labels = AI-Implement OR cf[10044] = docs)", ["ENG-1", "ENG-2"]),
        ('cf[10042] = "repo-a"', ["ENG-1"]),
        ("customfield_10042 in (repo-a, repo-b)", ["ENG-1"]),
        ('"Repo" = repo-a', ["ENG-1"]),
        ("Repos = api", ["ENG-2"]),
        ('"Repo Name" ~ svc', ["OPS-1"]),
        ("summary ~ text", ["OPS-1"]),
        ("updated >= -15m", ["ENG-1", "ENG-2", "OPS-1", "WEB-1"]),
        ('created < "2026-01-01"', []),
        ("key = eng-2", ["ENG-2"]),
        ("project = ENG ORDER BY created DESC, key", ["ENG-1", "ENG-2"]),
    ],
)
async def test_the_jql_subset_selects_as_jira_does(
    http: httpx.AsyncClient, seeded: JiraSandbox, jql: str, keys: list[str]
) -> None:
    response = await http.post("/search/jql", json={"jql": jql, "fields": ["key"]})

    assert response.status_code == 200, response.text
    assert [issue["key"] for issue in response.json()["issues"]] == keys


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("", "Unbounded JQL queries are not allowed here."),
        ("ORDER BY key DESC", "Unbounded JQL queries are not allowed here."),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("nope = 1", "Field 'nope' does not exist or you do not have permission to view it."),
        ("labels = currentUser()", "Error in the JQL Query: The sandbox does not implement JQL functions"),
        ("status WAS Done", "Error in the JQL Query: The sandbox does not implement the history operator 'WAS'"),
        ("(project = ENG ORDER BY key)", "Error in the JQL Query: Expecting ')' but got 'ORDER'."),
    ],
)
async def test_a_search_jira_refuses_is_a_400_error_collection(
    http: httpx.AsyncClient, seeded: JiraSandbox, jql: str, message: str
) -> None:
    response = await http.post("/search/jql", json={"jql": jql})

    assert response.status_code == 400
    body = response.json()
    assert problems(body, "ErrorCollection") == []
    assert body["errorMessages"][0].startswith(message)


async def test_a_page_token_belongs_to_its_query_and_expires_after_seven_days(
    http: httpx.AsyncClient, seeded: JiraSandbox, fake_time: FakeTime
) -> None:
    seeded.search_page_limit = 1
    token = (await http.post("/search/jql", json={"jql": "project = ENG"})).json()["nextPageToken"]

    other = await http.post("/search/jql", json={"jql": "project = OPS", "nextPageToken": token})
    forged = await http.post("/search/jql", json={"jql": "project = ENG", "nextPageToken": "bm9wZQ"})
    await fake_time.sleep(7 * 24 * 3600 + 1)
    expired = await http.post("/search/jql", json={"jql": "project = ENG", "nextPageToken": token})

    assert [response.status_code for response in (other, forged, expired)] == [400, 400, 400]


async def test_unknown_request_properties_are_refused(http: httpx.AsyncClient, seeded: JiraSandbox) -> None:
    response = await http.post("/search/jql", json={"jql": "project = ENG", "startAt": 50})

    assert response.status_code == 400
    assert 'Unrecognized field "startAt"' in response.json()["errorMessages"][0]


async def test_reconcile_issues_reads_its_own_writes(http: httpx.AsyncClient, seeded: JiraSandbox) -> None:
    seeded.search_lag = 10.0
    fresh = seeded.add_issue("ENG", "Just created")

    lagging = (await http.post("/search/jql", json={"jql": "project = ENG"})).json()
    reconciled = (
        await http.post("/search/jql", json={"jql": "project = ENG", "reconcileIssues": [int(fresh.id)]})
    ).json()

    assert fresh.id not in [issue["id"] for issue in lagging["issues"]]
    assert fresh.id in [issue["id"] for issue in reconciled["issues"]]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_the_old_search_is_gone(http: httpx.AsyncClient, seeded: JiraSandbox, method: str) -> None:
    response = await http.request(method, "/search", params={"jql": "project = ENG"})

    assert response.status_code == 410
    assert "CHANGE-2046" in response.json()["errorMessages"][0]


async def test_an_issue_is_an_issue_bean_with_every_field_by_default(
    http: httpx.AsyncClient, seeded: JiraSandbox
) -> None:
    response = await http.get("/issue/eng-1")

    body = response.json()
    assert problems(body, declared("/issue/{issueIdOrKey}", "get", "200")) == []
    assert body["key"] == "ENG-1"
    assert body["fields"]["description"]["type"] == "doc"
    assert body["fields"]["customfield_10042"] == {
        "self": f"{seeded.url}{API}/customFieldOption/10200",
        "value": "repo-a",
        "id": "10200",
    }
    assert body["fields"]["customfield_10043"] is None
    assert JIRA_TIME.match(body["fields"]["created"])
    assert problems(body["fields"]["status"], "StatusDetails") == []


async def test_a_missing_issue_is_a_404_error_collection(http: httpx.AsyncClient, seeded: JiraSandbox) -> None:
    response = await http.get("/issue/ENG-99")

    assert response.status_code == 404
    assert response.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }


async def test_transitions_follow_the_published_shapes(http: httpx.AsyncClient, seeded: JiraSandbox) -> None:
    offered = (await http.get("/issue/ENG-1/transitions")).json()
    refused = await http.post("/issue/ENG-1/transitions", json={"transition": {"id": "51"}})
    missing = await http.post("/issue/ENG-1/transitions", json={})
    done = await http.post("/issue/ENG-1/transitions", json={"transition": {"id": "11"}})

    assert problems(offered, declared("/issue/{issueIdOrKey}/transitions", "get", "200")) == []
    assert {transition["to"]["name"] for transition in offered["transitions"]} == {
        "Implementing",
        "In Progress",
        "Won't Do",
    }
    assert refused.status_code == 400
    assert refused.json()["errorMessages"] == ["Transition id '51' is not valid for this issue."]
    assert problems(refused.json(), "ErrorCollection") == []
    assert missing.status_code == 400
    assert (done.status_code, done.content) == (204, b"")
    assert seeded.issue("ENG-1").status == "Implementing"


async def test_comments_follow_the_published_shapes(http: httpx.AsyncClient, seeded: JiraSandbox) -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hi"}]}],
    }
    properties = [{"key": "ai-implement", "value": {"idempotencyKey": "k1"}}]

    created = await http.post("/issue/ENG-1/comment", json={"body": document, "properties": properties})
    listed = (await http.get("/issue/ENG-1/comment", params={"orderBy": "-created"})).json()
    by_id = (
        await http.post("/comment/list", params={"expand": "properties"}, json={"ids": [int(created.json()["id"])]})
    ).json()

    assert created.status_code == 201
    assert problems(created.json(), declared("/issue/{issueIdOrKey}/comment", "post", "201")) == []
    assert JIRA_TIME.match(created.json()["created"])
    assert problems(listed, declared("/issue/{issueIdOrKey}/comment", "get", "200")) == []
    assert listed["total"] == 1
    assert "properties" not in listed["comments"][0]
    assert problems(by_id, declared("/comment/list", "post", "200")) == []
    assert by_id["values"][0]["properties"] == properties


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"body": "plain text is v2"}, "Operation value must be an Atlassian Document"),
        ({"body": None}, "Comment body can not be empty!"),
        ({}, "Comment body can not be empty!"),
    ],
)
async def test_a_comment_that_is_not_adf_is_refused(
    http: httpx.AsyncClient, seeded: JiraSandbox, body: dict[str, Any], error: str
) -> None:
    response = await http.post("/issue/ENG-1/comment", json=body)

    assert response.status_code == 400
    assert problems(response.json(), "ErrorCollection") == []
    assert response.json()["errors"]["comment"].startswith(error)


async def test_jql_parse_answers_structures_errors_and_warnings(http: httpx.AsyncClient, seeded: JiraSandbox) -> None:
    queries = [
        'project = ENG AND (labels in (AI-Implement, "two words") OR cf[10042] is EMPTY) ORDER BY updated DESC',
        "invalid query",
        "project = INVALID",
        "universe = 42",
    ]

    response = await http.post("/jql/parse", params={"validation": "strict"}, json={"queries": queries})

    body = response.json()
    valid, syntax, unknown_value, unknown_field = body["queries"]
    assert valid["structure"]["where"]["operator"] == "and"
    assert valid["structure"]["orderBy"] == {
        "fields": [{"field": {"name": "updated", "encodedName": "updated"}, "direction": "desc"}]
    }
    assert syntax == {
        "query": "invalid query",
        "errors": [
            "Error in the JQL Query: Expecting operator but got 'query'. The valid operators are '=', '!=', '<', "
            "'>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'. (line 1, character 9)"
        ],
    }
    assert unknown_value["warnings"] == ["The value 'INVALID' does not exist for the field 'project'."]
    assert "structure" in unknown_value
    assert unknown_field == {
        "query": "universe = 42",
        "errors": ["Field 'universe' does not exist or you do not have permission to view it."],
    }
    assert problems(body, declared("/jql/parse", "post", "200"), parse_schemas()) == []


def parse_schemas() -> Mapping[str, Any]:
    """The published schemas with `JqlQueryClause` read as intended.

    `JqlQueryClause` is `anyOf` compound/field clauses with `additionalProperties: false` and no
    properties of its own, which strict JSON Schema reads as "no property at all": Jira's own
    example of a parse answer fails it. The checker gets the clause without that one keyword.
    """
    schemas = dict(spec_schemas(JIRA_SPEC))
    example = load_spec(JIRA_SPEC)["paths"]["/rest/api/3/jql/parse"]["post"]["responses"]["200"]["content"]
    jiras_own = json.loads(example["application/json"]["example"])
    assert problems(jiras_own, "ParsedJqlQueries", schemas) != [], "the published schema rejects its own example"
    schemas["JqlQueryClause"] = {
        key: value for key, value in schemas["JqlQueryClause"].items() if key != "additionalProperties"
    }
    assert problems(jiras_own, "ParsedJqlQueries", schemas) == []
    return schemas


async def test_jql_parse_refuses_a_malformed_request(http: httpx.AsyncClient, seeded: JiraSandbox) -> None:
    no_queries = await http.post("/jql/parse", params={"validation": "strict"}, json={"queries": []})
    bad_mode = await http.post("/jql/parse", params={"validation": "loose"}, json={"queries": ["project = ENG"]})

    for response in (no_queries, bad_mode):
        assert response.status_code == 400
        assert problems(response.json(), declared("/jql/parse", "post", "400")) == []


async def test_fields_contexts_and_options_follow_the_published_shapes(
    jira_sandbox: JiraSandbox, seeded: JiraSandbox
) -> None:
    assert jira_sandbox.url is not None
    admin = httpx.AsyncClient(
        base_url=f"{jira_sandbox.url}{API}", headers={"Authorization": f"Bearer {JIRA_ADMIN_TOKEN}"}
    )
    async with admin:
        fields = (await admin.get("/field")).json()
        contexts = (await admin.get("/field/customfield_10042/context")).json()
        context_id = contexts["values"][0]["id"]
        options = (
            await admin.get(f"/field/customfield_10042/context/{context_id}/option", params={"maxResults": 2})
        ).json()

    for entry in fields:
        assert problems(entry, declared("/field", "get", "200")) == [], entry["id"]
    assert problems(contexts, declared("/field/{fieldId}/context", "get", "200")) == []
    assert problems(options, declared("/field/{fieldId}/context/{contextId}/option", "get", "200")) == []
    assert (options["total"], options["isLast"], [o["value"] for o in options["values"]]) == (
        3,
        False,
        ["repo-a", "repo-b"],
    )


async def test_contexts_and_options_need_an_administrator(http: httpx.AsyncClient, seeded: JiraSandbox) -> None:
    contexts = await http.get("/field/customfield_10042/context")
    options = await http.get("/field/customfield_10042/context/10100/option")

    assert (contexts.status_code, options.status_code) == (403, 403)
    assert contexts.json()["errorMessages"] == ["Only Jira administrators can access custom field contexts."]
    assert options.json()["errorMessages"] == ["Only Jira administrators can manage custom field options."]


def test_the_parser_reads_precedence_as_jira_does() -> None:
    query = parse_jql("a = 1 OR b = 2 AND c = 3")

    assert isinstance(query.where, Compound)
    assert query.where.operator == "or"
    assert isinstance(query.where.clauses[1], Compound)
    assert query.where.clauses[1].operator == "and"
