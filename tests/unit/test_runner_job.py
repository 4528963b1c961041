"""The run's environment, read by the runner: every fault named at once, and the prompt files' rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.runner.job import DEFAULT_AGENT_COMMAND, JobError, read_job
from controller.runner.prompts import PromptFileError, compose_prompt, read_prompt_file, turn_limit
from controller.runner.step import UsageTally

ENVIRONMENT = {
    "AI_IMPLEMENT_DISPATCH": "eng-1-implementation-1",
    "AI_IMPLEMENT_KIND": "implementation",
    "AI_IMPLEMENT_ISSUE": "ENG-1",
    "AI_IMPLEMENT_REPO": "acme/eng",
    "AI_IMPLEMENT_CALLBACK_URL": "https://controller.example/",
    "AI_IMPLEMENT_DEADLINE": "2030-01-01T10:00:00Z",
    "AI_IMPLEMENT_MAX_JOB_MINUTES": "30",
}


def test_a_complete_environment_describes_the_run() -> None:
    job = read_job(ENVIRONMENT | {"AI_IMPLEMENT_AGENT_COMMAND": "python -m 'my agent'"})

    assert (job.owner, job.repo, job.base_branch) == ("acme", "eng", "main")
    assert job.callback_url == "https://controller.example"
    assert job.agent_command == ("python", "-m", "my agent")
    assert read_job(ENVIRONMENT).agent_command == DEFAULT_AGENT_COMMAND
    assert job.work_in_progress_branch == "ai-implement/wip/eng-1-implementation-1"


def test_the_runner_stops_before_max_job_minutes_or_the_deadline_whichever_comes_first() -> None:
    job = read_job(ENVIRONMENT | {"AI_IMPLEMENT_STOP_GRACE_SECONDS": "20"})
    started = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)

    assert job.stop_at(started) == started + timedelta(minutes=30) - timedelta(seconds=20)
    late = datetime(2030, 1, 1, 9, 50, tzinfo=UTC)
    assert job.stop_at(late) == datetime(2030, 1, 1, 10, 0, tzinfo=UTC) - timedelta(seconds=20)


def test_every_fault_is_named_at_once() -> None:
    broken = {
        "AI_IMPLEMENT_KIND": "deploy",
        "AI_IMPLEMENT_REPO": "acme",
        "AI_IMPLEMENT_CALLBACK_URL": "ftp://x",
        "AI_IMPLEMENT_DEADLINE": "tomorrow",
        "AI_IMPLEMENT_MAX_TURNS": "0",
        "AI_IMPLEMENT_PROGRESS_TOKEN": "only-one",
        "AI_IMPLEMENT_AGENT_COMMAND": "claude 'unclosed",
    }
    with pytest.raises(JobError) as raised:
        read_job(broken)

    message = str(raised.value)
    for expected in (
        "AI_IMPLEMENT_DISPATCH is not set",
        "AI_IMPLEMENT_KIND='deploy' is not one of",
        "AI_IMPLEMENT_REPO='acme' must be owner/name",
        "AI_IMPLEMENT_CALLBACK_URL='ftp://x' must be an http(s) URL",
        "AI_IMPLEMENT_DEADLINE='tomorrow' is not an ISO 8601 time",
        "AI_IMPLEMENT_MAX_TURNS=0 must be at least 1",
        "AI_IMPLEMENT_PROGRESS_TOKEN and AI_IMPLEMENT_RESULT_TOKEN come together",
        "AI_IMPLEMENT_AGENT_COMMAND=",
        "AI_IMPLEMENT_ISSUE is not set",
    ):
        assert expected in message


def test_a_review_run_needs_its_pull_request() -> None:
    with pytest.raises(JobError, match="AI_IMPLEMENT_PR_NUMBER is required for a review run"):
        read_job(ENVIRONMENT | {"AI_IMPLEMENT_KIND": "review"})


def test_the_prompt_file_chooses_the_model_and_may_only_lower_the_turns() -> None:
    text = (
        "---\n# ai-implement-template: v3 sha=0123456789ab\nmodel: claude-opus-4-1\nmax_turns: 80\n"
        "checks: [make test]\n---\n\n# Hi\n<!-- for people -->\nDo it well.\n"
    )

    prompt = read_prompt_file(text, "WORKFLOW.md")

    assert (prompt.model, prompt.max_turns, prompt.checks) == ("claude-opus-4-1", 80, ("make test",))
    assert prompt.instructions == "# Hi\n\nDo it well."
    assert (turn_limit(80, 50), turn_limit(20, 50), turn_limit(None, 50)) == (50, 20, 50)
    assert read_prompt_file(None, "PLANNING.md").instructions.startswith("Read the ticket")
    assert read_prompt_file("No front matter at all.\n", "WORKFLOW.md").instructions == "No front matter at all."


@pytest.mark.parametrize(
    ("front", "problem"),
    [
        ("model: [a, b]", "`model` must be one model id"),
        ("max_turns: many", "`max_turns` must be a whole number"),
        ("checks: {a: b}", "`checks` must be a list of shell commands"),
        ("model: x\n  bad: indent", "not valid YAML"),
    ],
)
def test_a_bad_prompt_file_names_its_fault(front: str, problem: str) -> None:
    with pytest.raises(PromptFileError, match=problem):
        read_prompt_file(f"---\n{front}\n---\nbody\n", "WORKFLOW.md")


def test_the_prompt_carries_the_ticket_the_plan_and_quoted_feedback() -> None:
    prompt = compose_prompt(
        kind="review",
        instructions="Be careful.",
        ticket={"identifier": "ENG-1", "title": "Dark mode", "url": "https://linear.app/x", "description": ""},
        plan="1. Do it.",
        feedback=[{"author": "ada", "body": "Rename it.\nAnd test it.", "url": "https://github.com/c/1"}],
    )

    assert prompt.startswith("Be careful.\n\n## Ticket ENG-1: Dark mode\nLink: https://linear.app/x")
    assert "(The ticket has no description: work from its title.)" in prompt
    assert "## The approved plan\n\n1. Do it." in prompt
    assert "- ada wrote (https://github.com/c/1):\n  > Rename it.\n  > And test it." in prompt


def test_a_runs_usage_is_the_sum_of_its_agent_calls_and_names_the_last_model() -> None:
    tally = UsageTally()
    assert tally.as_report() is None
    tally.add({"inputTokens": 10, "outputTokens": 5, "costUsd": 0.25, "model": "claude-opus-4-1"})
    tally.add({"inputTokens": 1, "cacheReadTokens": 7, "costUsd": 0.125, "model": "claude-sonnet-4-5"})
    tally.add(None)

    assert tally.as_report() == {
        "inputTokens": 11,
        "outputTokens": 5,
        "cacheReadTokens": 7,
        "cacheCreationTokens": 0,
        "costUsd": 0.375,
        "model": "claude-sonnet-4-5",
    }
