"""Marking work on Jira issues: transitions that are safe to repeat, comments that are posted once."""

from __future__ import annotations

import logging

import pytest

from controller.httpclient import RetryPolicy
from controller.sandbox import Fault, JiraSandbox
from controller.sandbox.jira import JiraIssueState
from controller.ticketing.jira import (
    JiraClient,
    JiraError,
    JiraNotFound,
    JiraTransitionNotAvailable,
    JiraUnavailable,
)
from tests.sandbox.conftest import JIRA_CLOUD_ID, JIRA_SECRETS, JIRA_SITE_URL, SECRETS
from tests.sandbox.support import assert_no_secrets

API = f"/ex/jira/{JIRA_CLOUD_ID}/rest/api/3"


@pytest.fixture
def issue(jira_site: JiraSandbox) -> JiraIssueState:
    return jira_site.add_issue("ENG", "Retry imports", labels=["AI-Implement"], fields={"Repo": "repo-a"})


def transition_posts(sandbox: JiraSandbox, key: str = "ENG-1") -> list[object]:
    return [request.json() for request in sandbox.requests_to("POST", f"{API}/issue/{key}/transitions")]


async def test_an_issue_moves_to_implementing_and_back(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    assert await jira.move_to_implementing("ENG-1") is True
    assert issue.status == "Implementing"

    assert await jira.move_to_status("ENG-1", "to do") is True
    assert issue.status == "To Do"
    assert transition_posts(jira_site) == [{"transition": {"id": "11"}}, {"transition": {"id": "21"}}]


async def test_moving_to_the_status_an_issue_is_in_is_a_no_op(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    await jira.move_to_implementing("ENG-1")

    assert await jira.move_to_implementing("ENG-1") is False
    assert await jira.move_to_status("ENG-1", "IMPLEMENTING") is False
    assert len(transition_posts(jira_site)) == 1
    assert issue.status == "Implementing"


async def test_transitions_list_what_the_workflow_offers_from_the_current_status(
    jira: JiraClient, issue: JiraIssueState
) -> None:
    offered = await jira.transitions("ENG-1")

    assert [(transition.name, transition.to.name) for transition in offered] == [
        ("Start implementing", "Implementing"),
        ("Start progress", "In Progress"),
        ("Won't do", "Won't Do"),
    ]
    assert offered[0].to.category is not None
    assert offered[0].to.category.key == "indeterminate"


async def test_a_status_the_workflow_does_not_offer_is_a_clear_error(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    jira_site.update_issue("ENG-1", status="Done")

    with pytest.raises(JiraTransitionNotAvailable) as caught:
        await jira.move_to_implementing("ENG-1")

    error = caught.value
    assert (error.issue, error.wanted, error.current, error.available) == (
        "ENG-1",
        "Implementing",
        "Done",
        ("To Do", "Won't Do"),
    )
    assert str(error) == (
        "Jira issue ENG-1 cannot move to status 'Implementing': from its status 'Done' the workflow offers only "
        "transitions to 'To Do', \"Won't Do\"; add a transition to 'Implementing' to the project's workflow"
    )
    assert not error.temporary
    assert transition_posts(jira_site) == []


async def test_a_user_without_the_transition_permission_is_told_so(
    jira_site: JiraSandbox, issue: JiraIssueState, retry: RetryPolicy
) -> None:
    jira_site.add_user("Read Only", None, token="read-only-token", can_transition=False)
    assert jira_site.url is not None
    async with JiraClient("read-only-token", JIRA_CLOUD_ID, gateway_url=jira_site.url, retry=retry) as client:
        assert await client.transitions("ENG-1") == []
        with pytest.raises(JiraTransitionNotAvailable, match="Transition issues permission"):
            await client.move_to_implementing("ENG-1")


async def test_a_lost_answer_to_a_transition_is_checked_not_repeated(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    jira_site.inject(Fault.disconnect(after_handler=True, method="POST", path=f"{API}/issue/ENG-1/transitions"))

    assert await jira.move_to_implementing("ENG-1") is True

    assert len(transition_posts(jira_site)) == 1, "a transition is not idempotent: never sent twice"
    assert issue.status == "Implementing"


async def test_a_refusal_after_the_issue_got_there_anyway_is_not_a_failure(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    jira_site.inject(Fault.unavailable(400, after_handler=True, method="POST", path=f"{API}/issue/ENG-1/transitions"))

    assert await jira.move_to_implementing("ENG-1") is False
    assert issue.status == "Implementing"


async def test_a_transition_refused_for_good_is_a_jira_error(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    jira_site.inject(Fault.unavailable(400, method="POST", path=f"{API}/issue/ENG-1/transitions"))

    with pytest.raises(JiraError) as caught:
        await jira.move_to_implementing("ENG-1")

    assert caught.value.status == 400
    assert issue.status == "To Do"


async def test_a_missing_issue_is_not_found(jira: JiraClient, jira_site: JiraSandbox) -> None:
    with pytest.raises(JiraNotFound, match="Issue does not exist or you do not have permission to see it"):
        await jira.move_to_implementing("ENG-404")


async def test_a_comment_is_adf_with_links_and_carries_its_idempotency_key(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    text = "Dispatch started: [run 42](https://github.com/acme/app/actions/runs/42).\n\nPR: https://github.com/acme/app/pull/7."

    comment = await jira.add_comment("ENG-1", text, idempotency_key="eng-1-implementation-1-started")

    [stored] = issue.comments
    assert comment.id == stored.id
    assert comment.idempotency_key == "eng-1-implementation-1-started"
    assert stored.properties == {"ai-implement": {"idempotencyKey": "eng-1-implementation-1-started"}}
    assert stored.body == {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Dispatch started: "},
                    {
                        "type": "text",
                        "text": "run 42",
                        "marks": [{"type": "link", "attrs": {"href": "https://github.com/acme/app/actions/runs/42"}}],
                    },
                    {"type": "text", "text": "."},
                ],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "PR: "},
                    {
                        "type": "text",
                        "text": "https://github.com/acme/app/pull/7",
                        "marks": [{"type": "link", "attrs": {"href": "https://github.com/acme/app/pull/7"}}],
                    },
                    {"type": "text", "text": "."},
                ],
            },
        ],
    }


async def test_a_repeated_comment_returns_the_first_and_posts_nothing(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    first = await jira.add_comment("ENG-1", "Dispatch started", idempotency_key="k1")
    again = await jira.add_comment("ENG-1", "Dispatch started", idempotency_key="k1")
    other = await jira.add_comment("ENG-1", "Dispatch finished", idempotency_key="k2")

    assert again.id == first.id
    assert other.id != first.id
    assert [comment.id for comment in issue.comments] == [first.id, other.id]
    assert len(jira_site.requests_to("POST", f"{API}/issue/ENG-1/comment")) == 2


async def test_a_key_is_found_among_many_comments_of_other_people(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    jira_site.add_comment("ENG-1", "Ours, long ago", properties={"ai-implement": {"idempotencyKey": "old"}})
    for number in range(150):
        jira_site.add_comment("ENG-1", f"Chatter {number}")

    comment = await jira.add_comment("ENG-1", "Ours, long ago", idempotency_key="old")

    assert comment.id == issue.comments[0].id
    assert len(issue.comments) == 151
    assert len(jira_site.requests_to("GET", f"{API}/issue/ENG-1/comment")) == 2
    assert len(jira_site.requests_to("POST", f"{API}/comment/list")) == 2


async def test_a_comment_whose_answer_was_lost_is_found_not_posted_twice(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    jira_site.inject(Fault.disconnect(after_handler=True, method="POST", path=f"{API}/issue/ENG-1/comment"))

    comment = await jira.add_comment("ENG-1", "Dispatch started", idempotency_key="k1")

    assert [stored.id for stored in issue.comments] == [comment.id]
    assert comment.idempotency_key == "k1"


async def test_a_comment_refused_before_it_was_made_fails_and_a_later_try_posts_it(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    jira_site.inject(Fault.unavailable(503, method="POST", path=f"{API}/issue/ENG-1/comment"))

    with pytest.raises(JiraUnavailable) as caught:
        await jira.add_comment("ENG-1", "Dispatch started", idempotency_key="k1")
    assert issue.comments == []
    assert caught.value.temporary

    await jira.add_comment("ENG-1", "Dispatch started", idempotency_key="k1")
    assert len(issue.comments) == 1
    assert_no_secrets((*SECRETS, *JIRA_SECRETS), records=caplog.records, errors=[caught.value])


async def test_comment_text_is_checked_and_cut_to_jiras_limit(
    jira: JiraClient, jira_site: JiraSandbox, issue: JiraIssueState
) -> None:
    with pytest.raises(ValueError, match="needs some text"):
        await jira.add_comment("ENG-1", "  \n ", idempotency_key="k0")
    with pytest.raises(ValueError, match="idempotency key"):
        await jira.add_comment("ENG-1", "text", idempotency_key=" ")

    await jira.add_comment("ENG-1", "x" * 40_000, idempotency_key="long")

    [stored] = issue.comments
    text = stored.body["content"][0]["content"][0]["text"]
    assert len(text) == 32_767
    assert text.endswith("… (truncated)")


async def test_the_site_url_is_trimmed_of_spaces_and_a_trailing_slash(jira_site: JiraSandbox) -> None:
    assert jira_site.url is not None
    async with JiraClient("t", JIRA_CLOUD_ID, site_url=f" {JIRA_SITE_URL}/ ", gateway_url=jira_site.url) as client:
        assert client.site_url == JIRA_SITE_URL
