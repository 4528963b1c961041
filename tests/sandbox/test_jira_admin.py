"""What the admin UI asks of Jira for a mapping: Jira's verdict on a JQL, the fields, a select field's options."""

from __future__ import annotations

import pytest

from controller.httpclient import RetryPolicy
from controller.sandbox import JiraSandbox
from controller.ticketing.jira import JiraClient, JiraError, JiraForbidden, JiraNotFound
from tests.sandbox.conftest import JIRA_ADMIN_TOKEN, JIRA_CLOUD_ID

API = f"/ex/jira/{JIRA_CLOUD_ID}/rest/api/3"


async def test_a_good_jql_is_valid(jira: JiraClient, jira_site: JiraSandbox) -> None:
    verdict = await jira.validate_jql('project = ENG AND cf[10042] = "repo-a" ORDER BY created DESC')

    assert verdict.valid
    assert (verdict.errors, verdict.warnings) == ((), ())
    [request] = jira_site.requests
    assert request.query["validation"] == "strict"
    assert request.json() == {"queries": ['project = ENG AND cf[10042] = "repo-a" ORDER BY created DESC']}


@pytest.mark.parametrize(
    ("jql", "error"),
    [
        ("invalid query", "Error in the JQL Query: Expecting operator but got 'query'."),
        ("project = ENG AND", "Error in the JQL Query: Expecting a field name but got end of query."),
        ("universe = 42", "Field 'universe' does not exist or you do not have permission to view it."),
        ("summary = test", "The operator '=' is not supported by the 'summary' field."),
        ('project = ENG AND (labels = "x"', "Error in the JQL Query: Expecting ')' but got end of query."),
        ('labels = "unterminated', "Error in the JQL Query: The quoted string 'unterminated' has not been completed."),
    ],
)
async def test_a_bad_jql_has_jiras_errors(jira: JiraClient, jira_site: JiraSandbox, jql: str, error: str) -> None:
    verdict = await jira.validate_jql(jql)

    assert not verdict.valid
    [message] = verdict.errors
    assert message.startswith(error)


async def test_an_unknown_project_is_only_a_warning(jira: JiraClient, jira_site: JiraSandbox) -> None:
    verdict = await jira.validate_jql("project = NOPE")

    assert verdict.valid
    assert verdict.warnings == ("The value 'NOPE' does not exist for the field 'project'.",)


async def test_an_empty_jql_is_invalid_without_asking_jira(jira: JiraClient, jira_site: JiraSandbox) -> None:
    verdict = await jira.validate_jql("   ")

    assert verdict.errors == ("the JQL is empty: a Jira mapping needs a JQL clause",)
    assert jira_site.requests == []


async def test_fields_list_system_and_custom_fields_with_their_jql_names(
    jira: JiraClient, jira_site: JiraSandbox
) -> None:
    fields = {field.id: field for field in await jira.fields()}

    repo = fields["customfield_10042"]
    assert (repo.name, repo.custom, repo.clause_names) == ("Repo", True, ("cf[10042]", "Repo"))
    assert repo.field_schema is not None
    assert (repo.field_schema.type, repo.field_schema.custom, repo.field_schema.custom_id) == (
        "option",
        "com.atlassian.jira.plugin.system.customfieldtypes:select",
        10042,
    )
    assert fields["customfield_10044"].field_schema is not None
    assert fields["customfield_10044"].field_schema.items == "option"
    assert {"summary", "status", "labels", "updated"} <= set(fields)
    assert not fields["summary"].custom


async def test_an_administrator_lists_a_select_fields_options(jira_site: JiraSandbox, retry: RetryPolicy) -> None:
    assert jira_site.url is not None
    async with JiraClient(JIRA_ADMIN_TOKEN, JIRA_CLOUD_ID, gateway_url=jira_site.url, retry=retry) as admin:
        options = await admin.field_options("cf[10042]")

    assert [(option.value, option.disabled) for option in options] == [
        ("repo-a", False),
        ("repo-b", False),
        ("repo-c", False),
    ]
    assert {option.context_name for option in options} == {"Default Configuration Scheme for Repo"}
    assert all(option.id.isdigit() and option.context_id.isdigit() for option in options)


async def test_options_are_read_page_by_page(jira_site: JiraSandbox, retry: RetryPolicy) -> None:
    jira_site.add_field("Many", options=[f"repo-{n:03d}" for n in range(150)], field_id="customfield_10099")
    assert jira_site.url is not None
    async with JiraClient(JIRA_ADMIN_TOKEN, JIRA_CLOUD_ID, gateway_url=jira_site.url, retry=retry) as admin:
        options = await admin.field_options("customfield_10099")

    assert len(options) == 150
    assert len([r for r in jira_site.requests if r.path.endswith("/option")]) == 2


async def test_options_need_an_administrator(jira: JiraClient, jira_site: JiraSandbox) -> None:
    with pytest.raises(JiraForbidden) as caught:
        await jira.field_options("customfield_10042")

    message = str(caught.value)
    assert message.startswith("Jira refused to list the options of field customfield_10042")
    assert "Administer Jira" in message
    assert "Only Jira administrators can access custom field contexts." in message
    assert caught.value.status == 403
    assert caught.value.error_messages == ("Only Jira administrators can access custom field contexts.",)


async def test_options_of_an_unknown_field_or_a_text_field(jira_site: JiraSandbox, retry: RetryPolicy) -> None:
    assert jira_site.url is not None
    async with JiraClient(JIRA_ADMIN_TOKEN, JIRA_CLOUD_ID, gateway_url=jira_site.url, retry=retry) as admin:
        with pytest.raises(JiraNotFound, match=r"The custom field was not found\."):
            await admin.field_options("customfield_99999")
        with pytest.raises(JiraError, match=r"The custom field doesn't support options\.") as caught:
            await admin.field_options("customfield_10043")
    assert caught.value.status == 400
