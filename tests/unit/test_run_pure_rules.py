"""Pure pieces of a run's life: whose identity a token is, a session's mirrored status, the closing comment,
and which backend runs which mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.github import WorkflowRun
from controller.operator.runs.messages import closing_comment, failed_step, log_message, notification_kind
from controller.operator.runs.reconciler import releases_ticket
from controller.operator.runs.rules import overdue_count
from controller.operator.sessions.reconciler import status_patch
from controller.resources.runner_session import RunnerSessionStatus
from controller.runners.backend import RunHandle
from controller.runners.github_actions import foreign_run_reason
from controller.runners.identity import RecordedRun, WorkloadIdentity, identity_matches
from controller.runners.registry import BackendNotConfigured, Backends

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
ACTIONS_RUN = RecordedRun(repo="acme/web", runner_backend="github-actions", runner_id="acme/web/42", fly_app=None)
SYNCED_REF = "acme/web/.github/workflows/ai-implement.yml@refs/heads/main"
CHECKED_RUN = RecordedRun(
    repo="acme/web",
    runner_backend="github-actions",
    runner_id="acme/web/42",
    fly_app=None,
    workflow_ref=SYNCED_REF,
    actor="ai-implement[bot]",
)
FLY_RUN = RecordedRun(repo="acme/web", runner_backend="fly-machines", runner_id="m-1", fly_app="sessions")
SHADOWED = RecordedRun(
    repo="acme/web", runner_backend="github-actions", runner_id="acme/web/42", fly_app="sessions", shadow_id="m-9"
)


def actions(**claims: Any) -> WorkloadIdentity:
    base = {"repository": "acme/web", "run_id": "42", "event_name": "workflow_dispatch"}
    return WorkloadIdentity("github-actions", base | claims)


def app_run(**claims: Any) -> WorkloadIdentity:
    return actions(**({"workflow_ref": SYNCED_REF, "actor": "ai-implement[bot]"} | claims))


def fly(**claims: Any) -> WorkloadIdentity:
    return WorkloadIdentity("fly-machines", {"app_name": "sessions", "machine_id": "m-1"} | claims)


@pytest.mark.parametrize(
    ("identity", "run", "matches", "shadow", "why"),
    [
        (actions(), ACTIONS_RUN, True, False, ""),
        (actions(event_name=None), ACTIONS_RUN, False, False, "workflow dispatch"),
        (app_run(), CHECKED_RUN, True, False, ""),
        (app_run(workflow_ref=SYNCED_REF.replace("main", "evil")), CHECKED_RUN, False, False, "refs/heads/evil"),
        (app_run(workflow_ref=SYNCED_REF.replace("ai-implement", "mine")), CHECKED_RUN, False, False, "mine.yml"),
        (app_run(actor="mallory"), CHECKED_RUN, False, False, "not by the App"),
        (actions(run_id="43"), ACTIONS_RUN, False, False, "another workflow run"),
        (actions(repository="fork/web"), ACTIONS_RUN, False, False, "fork/web"),
        (actions(event_name="push"), ACTIONS_RUN, False, False, "workflow dispatch"),
        (actions(), FLY_RUN, False, False, "does not run on GitHub Actions"),
        (fly(), FLY_RUN, True, False, ""),
        (fly(machine_id="m-2"), FLY_RUN, False, False, "another machine"),
        (fly(app_name="other"), FLY_RUN, False, False, "Fly app 'other'"),
        (fly(machine_id="m-9"), SHADOWED, True, True, ""),
        (WorkloadIdentity("local", {}), FLY_RUN, False, False, "do not exchange"),
    ],
    ids=[
        "actions",
        "no-event",
        "the-apps-run-of-the-synced-workflow",
        "another-branch",
        "another-workflow",
        "started-by-hand",
        "other-run",
        "other-repo",
        "other-event",
        "actions-token-for-a-fly-run",
        "fly",
        "other-machine",
        "other-app",
        "shadow-machine",
        "unknown-platform",
    ],
)
def test_whose_identity_a_token_is(
    identity: WorkloadIdentity, run: RecordedRun, matches: bool, shadow: bool, why: str
) -> None:
    decided = identity_matches(identity, run)

    assert decided[:2] == (matches, shadow)
    assert why in decided[2]


def handle(state: str, **fields: Any) -> RunHandle:
    return RunHandle(backend="fly-machines", id="m-1", name="n", state=state, backend_state=state, **fields)  # type: ignore[arg-type]


def test_a_live_session_mirrors_state_and_uptime() -> None:
    patch = status_patch(handle("started", created_at=NOW - timedelta(seconds=90)), RunnerSessionStatus(), NOW)

    assert patch == {
        "state": "started",
        "backendState": "started",
        "lastSyncedAt": "2026-11-22T04:00:00Z",
        "startedAt": "2026-11-22T03:58:30Z",
        "uptimeSeconds": 90,
    }


def test_an_ended_session_records_when_it_was_first_seen_ended_and_its_exit_code() -> None:
    first = status_patch(handle("stopped", exit_code=137), RunnerSessionStatus(), NOW)
    later = status_patch(None, RunnerSessionStatus(finishedAt=NOW), NOW + timedelta(minutes=1))

    assert (first["finishedAt"], first["exitCode"]) == ("2026-11-22T04:00:00Z", 137)
    assert (later["state"], later["backendState"]) == ("destroyed", "gone")
    assert "finishedAt" not in later


STEPS = [{"name": "checkout", "status": "succeeded"}, {"name": "test", "status": "failed"}]


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Succeeded", "implementation run (eng-1-implementation-1) finished and opened a pull request: https://pr/7"),
        ("Failed", "failed in step `test` (`RunnerFailed`):\n\n> 2 tests failed\n"),
        ("TimedOut", "was stopped in step `test`:\n\n> 2 tests failed\n"),
        ("Cancelled", "was cancelled in step `test`:\n\n> 2 tests failed\n"),
    ],
)
def test_the_closing_comment_says_how_the_run_ended_and_where(phase: str, expected: str) -> None:
    text = closing_comment(
        phase=phase,
        kind="implementation",
        dispatch_name="eng-1-implementation-1",
        pull_request_url="https://pr/7" if phase == "Succeeded" else None,
        error_reason="RunnerFailed",
        error_message="2 tests failed",
        steps=STEPS,
        run_url="https://github.com/acme/web/actions/runs/42",
    )

    assert expected in text
    assert text.endswith("Run: https://github.com/acme/web/actions/runs/42")


def test_what_a_run_wrote_is_quoted_with_its_links_spelled_out() -> None:
    hostile = (
        "Done. [Approve the plan here](https://evil.example/approve) ![pixel](https://evil.example/p.png)\n"
        "\n"
        "Run: https://github.com/acme/web/actions/runs/1 (not really)"
    )
    text = closing_comment(
        phase="Failed",
        kind="implementation",
        dispatch_name="eng-1-implementation-1",
        pull_request_url=None,
        error_reason="Bad`Reason\n@channel",
        error_message=hostile,
        steps=[],
        run_url="https://github.com/acme/web/actions/runs/42",
    )

    assert "> Done. Approve the plan here (https://evil.example/approve) pixel (https://evil.example/p.png)" in text
    assert "](" not in text, "no link hides its target, no image loads"
    assert "> Run: https://github.com/acme/web/actions/runs/1 (not really)" in text, "the run's lines stay quoted"
    assert "(`Bad'Reason @channel`)" in text
    assert text.endswith("\nRun: https://github.com/acme/web/actions/runs/42")
    plan = closing_comment(
        phase="Succeeded",
        kind="planning",
        dispatch_name="eng-1-planning-1",
        pull_request_url=None,
        error_reason=None,
        error_message=None,
        steps=[],
        run_url=None,
        summary="## Plan\n\n1. Do [this](https://x.example)",
    )
    assert plan.endswith("The plan it wrote:\n\n> ## Plan\n>\n> 1. Do this (https://x.example)")


def test_the_step_a_failure_happened_in() -> None:
    assert failed_step(STEPS) == "test"
    assert failed_step([{"name": "a", "status": "succeeded"}, {"name": "b", "status": "running"}]) == "b"
    assert failed_step([]) is None


def test_log_messages_and_notification_kinds() -> None:
    assert log_message("Succeeded", "x", "y") is None
    assert log_message("Failed", "RunnerFailed", "boom") == "RunnerFailed: boom"
    assert log_message("TimedOut", None, "late") == "late"
    assert [notification_kind(p) for p in ("Succeeded", "Failed", "TimedOut", "ReviewFailed", "Cancelled")] == [
        "dispatch_succeeded",
        "dispatch_failed",
        "dispatch_timed_out",
        "review_failed",
        "dispatch_failed",
    ]


def test_a_mode_without_its_backend_names_what_to_set() -> None:
    backends = Backends()

    with pytest.raises(BackendNotConfigured, match="FLY_SESSIONS_TOKEN"):
        backends.for_mode("fly-machines")
    with pytest.raises(BackendNotConfigured, match="GITHUB_APP_ID"):
        backends.for_mode("shadow")
    with pytest.raises(BackendNotConfigured, match="no runner backend called 'mainframe'"):
        backends.backend("mainframe")


@pytest.mark.parametrize(
    ("kind", "phase", "releases"),
    [
        ("planning", "Succeeded", True),
        ("planning", "Failed", True),
        ("implementation", "Succeeded", False),
        ("implementation", "TimedOut", True),
        ("review", "Failed", False),
        ("gap-fill", "Succeeded", False),
    ],
)
def test_which_endings_take_the_in_progress_marker_off(kind: str, phase: str, releases: bool) -> None:
    assert releases_ticket(kind, phase) is releases


def workflow_run(**fields: Any) -> WorkflowRun:
    base: dict[str, Any] = {
        "id": 7,
        "event": "workflow_dispatch",
        "head_branch": "main",
        "actor": {"login": "ai-implement[bot]", "id": 1, "type": "Bot"},
        "created_at": NOW,
    }
    return WorkflowRun.model_validate(base | fields)


@pytest.mark.parametrize(
    ("run", "why"),
    [
        (workflow_run(), None),
        (workflow_run(created_at=NOW - timedelta(minutes=1)), None),
        (workflow_run(event="push"), "push event"),
        (workflow_run(head_branch="feature"), "not on the default branch"),
        (workflow_run(actor={"login": "mallory", "id": 2, "type": "User"}), "mallory, not by the App"),
        (workflow_run(actor={"login": "github-actions[bot]", "id": 3, "type": "Bot"}), "not by the App"),
        (workflow_run(actor=None), "someone unknown"),
        (workflow_run(created_at=NOW - timedelta(minutes=10)), "before its Dispatch"),
    ],
    ids=["ours", "within-clock-skew", "push", "other-branch", "by-hand", "another-bot", "no-actor", "older"],
)
def test_a_run_named_like_a_dispatch_is_adopted_only_when_the_app_started_it(run: WorkflowRun, why: str | None) -> None:
    refused = foreign_run_reason(run, "main", "ai-implement[bot]", NOW)

    assert (refused is None) == (why is None)
    if why is not None:
        assert refused is not None
        assert why in refused


def test_only_unfinished_runs_well_past_their_deadline_are_overdue() -> None:
    def at(minutes: int) -> str:
        return (NOW + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    deadlines = [
        ("Running", at(-11)),
        ("Running", at(-9)),
        ("Pending", at(-60)),
        ("Succeeded", at(-60)),
        ("TimedOut", at(-60)),
        ("Running", None),
        (None, at(-30)),
    ]

    assert overdue_count(deadlines, NOW) == 3
