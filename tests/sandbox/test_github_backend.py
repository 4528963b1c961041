"""GitHubActionsBackend against the GitHub sandbox: idempotent start, safe inputs, status, destroy, reaping."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.github import MAX_DISPATCH_INPUTS, GitHubClient, GitHubUnavailable, WorkflowRun
from controller.httpclient import RetryPolicy
from controller.runners.backend import RepoRef, RunLaunch, RunnerBackend
from controller.runners.github_actions import (
    WORKFLOW_INPUTS,
    DispatchedRunNotListed,
    GitHubActionsBackend,
    dispatch_name_in,
    names_dispatch,
    read_run_title,
    session_state,
    workflow_inputs,
)
from controller.sandbox import Fault
from controller.sandbox.github import GitHubSandbox
from controller.sandbox.runs import StartedRun
from tests.sandbox.github_fixtures import (
    DISPATCH_PATH,
    OTHER_REPO,
    OWNER,
    REPO,
    WORKFLOW,
    fake_datetime,
    github_client,
    seeded_sandbox,
)
from tests.sandbox.support import FakeTime, assert_no_secrets

ANTHROPIC_KEY = "sk-ant-sandbox-key-that-must-never-be-an-input"
RUNNER_TOKEN = "runner-progress-token-0123456789"
DISPATCH = "eng-42-implementation-1"


def make_launch(**overrides: Any) -> RunLaunch:
    """A dispatch for ENG-42 on acme/web, with safe settings and, beside them, secrets and look-alikes."""
    values: dict[str, Any] = {
        "dispatch_name": DISPATCH,
        "dispatch_uid": "3f0c1a52-uid",
        "namespace": "ai-implement",
        "team_key": "ENG",
        "tenant": None,
        "kind": "implementation",
        "iteration": 1,
        "pipeline": "default",
        "issue_provider": "linear",
        "issue_id": "9b2e6d0c-issue",
        "issue_identifier": "ENG-42",
        "issue_title": "Dark mode",
        "issue_url": "https://linear.app/acme/issue/ENG-42",
        "repo": RepoRef(owner=OWNER, name=REPO, default_branch="main"),
        "pull_request_number": None,
        "pull_request_branch": None,
        "image": "images.example.invalid/acme/runner:1",
        "region": None,
        "callback_base_url": "https://ai.example.com",
        "deadline": datetime(2026, 1, 2, 9, tzinfo=UTC),
        "environment": {
            "AI_MODEL": "claude-sonnet",
            "AI_PROVIDER": "anthropic",
            "MAX_TURNS": "40",
            "ANTHROPIC_API_KEY": "placeholder",
            "NOTE": f"key={ANTHROPIC_KEY}",
        },
        "secrets": {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "RUNNER_PROGRESS_TOKEN": RUNNER_TOKEN},
    }
    values.update(overrides)
    return RunLaunch(**values)


@pytest.fixture
async def github_sandbox(fake_time: FakeTime, rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[GitHubSandbox]:
    sandbox = seeded_sandbox(fake_time, rsa_key)
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def github(github_sandbox: GitHubSandbox, rsa_key_pem: str, retry: RetryPolicy) -> AsyncIterator[GitHubClient]:
    async with github_client(github_sandbox, rsa_key_pem, retry) as client:
        yield client


@pytest.fixture
def backend(github: GitHubClient, fake_time: FakeTime) -> GitHubActionsBackend:
    return GitHubActionsBackend(
        github,
        correlation_attempts=3,
        correlation_delay=2.0,
        sleep=fake_time.sleep,
        clock=lambda: fake_datetime(fake_time),
    )


def dispatches(sandbox: GitHubSandbox) -> list[dict[str, Any]]:
    return [request.json() for request in sandbox.requests_to("POST", DISPATCH_PATH)]


async def test_the_backend_is_a_runner_backend(backend: GitHubActionsBackend) -> None:
    implementation: RunnerBackend = backend
    assert implementation.name == "github-actions"
    assert backend.workflow == WORKFLOW == "ai-implement.yml"


async def test_start_dispatches_the_workflow_on_the_default_branch_and_names_the_run(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox
) -> None:
    handle = await backend.start(make_launch())

    [run] = github_sandbox.runs.values()
    assert handle.id == f"{OWNER}/{REPO}/{run.id}"
    assert (handle.backend, handle.name, handle.state) == ("github-actions", DISPATCH, "created")
    assert handle.url == f"https://github.com/{OWNER}/{REPO}/actions/runs/{run.id}"
    assert handle.metadata["issue"] == "ENG-42"
    assert run.display_title == DISPATCH
    [sent] = dispatches(github_sandbox)
    assert sent["ref"] == "main"
    assert sent["inputs"] == {
        "dispatch": DISPATCH,
        "namespace": "ai-implement",
        "issue_identifier": "ENG-42",
        "issue_id": "9b2e6d0c-issue",
        "issue_provider": "linear",
        "issue_url": "https://linear.app/acme/issue/ENG-42",
        "kind": "implementation",
        "iteration": "1",
        "pipeline": "default",
        "callback_base_url": "https://ai.example.com",
        "environment": '{"AI_MODEL":"claude-sonnet","AI_PROVIDER":"anthropic","MAX_TURNS":"40"}',
    }


async def test_starting_twice_starts_one_run_and_adopts_it(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox, fake_time: FakeTime
) -> None:
    first = await backend.start(make_launch())
    fake_time.now += 30
    second = await backend.start(make_launch())
    found = await backend.find(make_launch())

    assert len(github_sandbox.runs) == 1
    assert len(dispatches(github_sandbox)) == 1
    assert second.id == first.id
    assert found is not None
    assert found.id == first.id


async def test_a_first_attempt_dispatches_without_listing_the_repositorys_runs(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox
) -> None:
    """No earlier attempt reached the start call, so there is nothing to adopt and nothing to list."""
    handle = await backend.start(make_launch(earlier_attempt=False))

    assert len(dispatches(github_sandbox)) == 1
    assert [r.path for r in github_sandbox.requests if r.method == "GET" and r.path.endswith("/runs")] == []
    assert handle.id == f"acme/web/{next(iter(github_sandbox.runs))}"


async def test_a_later_attempt_looks_for_the_run_an_earlier_one_started(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox, fake_time: FakeTime
) -> None:
    first = await backend.start(make_launch(earlier_attempt=False))
    fake_time.now += 30

    again = await backend.start(make_launch(earlier_attempt=True))

    assert len(dispatches(github_sandbox)) == 1
    assert again.id == first.id


async def test_a_run_of_a_dispatch_with_a_longer_name_is_not_adopted(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox
) -> None:
    await backend.start(make_launch(dispatch_name="eng-42-implementation-10"))

    assert await backend.find(make_launch()) is None
    await backend.start(make_launch())
    assert sorted(run.display_title for run in github_sandbox.runs.values()) == [
        "eng-42-implementation-1",
        "eng-42-implementation-10",
    ]


async def test_a_run_someone_started_by_hand_with_the_dispatchs_name_is_not_adopted(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A repository writer can start the synced workflow with a predictable run name: it is not ours."""
    planted = github_sandbox.add_workflow_run(OWNER, REPO, WORKFLOW, display_title=DISPATCH, actor="mallory")

    assert await backend.find(make_launch()) is None
    started = await backend.start(make_launch())

    assert started.id != f"{OWNER}/{REPO}/{planted.id}"
    assert len(github_sandbox.runs) == 2, "the controller dispatched its own run"
    assert any("mallory, not by the App" in record.getMessage() for record in caplog.records)


async def test_a_run_of_the_app_older_than_its_dispatch_is_not_adopted(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox, fake_time: FakeTime
) -> None:
    created = datetime.fromtimestamp(fake_time.now, UTC)
    first = await backend.start(make_launch(created_at=created))
    fake_time.now += 3600
    an_hour_later = datetime.fromtimestamp(fake_time.now, UTC)

    found = await backend.find(make_launch(created_at=created))
    assert found is not None
    assert found.id == first.id
    assert await backend.find(make_launch(created_at=an_hour_later)) is None, "a Dispatch of that name made later"


async def test_inputs_never_carry_a_secret_and_left_out_entries_are_logged_by_name(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await backend.start(make_launch())

    [sent] = dispatches(github_sandbox)
    assert "ANTHROPIC_API_KEY" not in sent["inputs"]
    assert "NOTE" not in sent["inputs"]
    assert_no_secrets([ANTHROPIC_KEY, RUNNER_TOKEN], records=caplog.records)
    assert all(ANTHROPIC_KEY not in request.body.decode() for request in github_sandbox.requests)
    [warning] = [record for record in caplog.records if record.name == "controller.runners.github_actions"]
    assert warning.__dict__["left_out_inputs"] == ["ANTHROPIC_API_KEY", "NOTE"]
    assert "its value is a secret's" in warning.getMessage()


def test_settings_travel_as_one_json_input_without_anything_that_could_be_a_secret() -> None:
    environment = {f"SETTING_{n:02d}": "v" for n in range(40)}
    environment.update({"bad name": "v", "DB_PASSWORD": "v", "NOTE": "holds sk-ant-secret-value"})
    launch = make_launch(
        environment=environment,
        secrets={"ANTHROPIC_API_KEY": "sk-ant-secret-value"},
        pull_request_number=7,
        pull_request_branch="ai/eng-42",
    )

    decided = workflow_inputs(launch)

    assert set(decided.inputs) == set(WORKFLOW_INPUTS)
    assert len(decided.inputs) <= MAX_DISPATCH_INPUTS
    assert decided.inputs["dispatch"] == DISPATCH
    assert (decided.inputs["pull_request_number"], decided.inputs["pull_request_branch"]) == ("7", "ai/eng-42")
    settings = json.loads(decided.inputs["environment"])
    assert settings == {f"SETTING_{n:02d}": "v" for n in range(40)}
    assert decided.left_out == {
        "DB_PASSWORD": "its name looks like a credential's",
        "NOTE": "its value is a secret's",
        "bad name": "not an environment variable name",
    }
    assert all(isinstance(value, str) for value in decided.inputs.values())


def test_a_fixed_input_holding_a_secret_refuses_to_dispatch() -> None:
    launch = make_launch(callback_base_url=f"https://ai.example.com/?t={RUNNER_TOKEN}")

    with pytest.raises(ValueError, match="callback_base_url") as caught:
        workflow_inputs(launch)

    assert RUNNER_TOKEN not in str(caught.value)


async def test_a_legacy_204_answer_is_correlated_by_listing_the_runs(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox, fake_time: FakeTime
) -> None:
    github_sandbox.return_run_details = False

    handle = await backend.start(make_launch())

    [run] = github_sandbox.runs.values()
    assert handle.id == f"{OWNER}/{REPO}/{run.id}"
    assert (handle.state, handle.backend_state) == ("starting", "queued")
    assert fake_time.sleeps == []


async def test_a_204_whose_run_never_shows_is_a_temporary_error_after_a_few_looks(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox, fake_time: FakeTime
) -> None:
    github_sandbox.return_run_details = False
    github_sandbox.add_workflow(OWNER, REPO, WORKFLOW, inputs=WORKFLOW_INPUTS, run_name=None)

    with pytest.raises(DispatchedRunNotListed) as caught:
        await backend.start(make_launch(environment={}))

    assert caught.value.temporary
    assert fake_time.sleeps == [2.0, 2.0]
    assert DISPATCH in str(caught.value)
    assert len(github_sandbox.runs) == 1


async def test_a_dispatch_whose_answer_was_lost_adopts_the_run_github_started(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox
) -> None:
    github_sandbox.inject(Fault.unavailable(502, after_handler=True, method="POST", path=DISPATCH_PATH))

    handle = await backend.start(make_launch())

    [run] = github_sandbox.runs.values()
    assert handle.id == f"{OWNER}/{REPO}/{run.id}"
    assert len(dispatches(github_sandbox)) == 1


async def test_a_dispatch_refused_before_github_acted_is_raised_after_looking(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox, fake_time: FakeTime
) -> None:
    github_sandbox.inject(Fault.unavailable(503, method="POST", path=DISPATCH_PATH))

    with pytest.raises(GitHubUnavailable):
        await backend.start(make_launch())

    assert github_sandbox.runs == {}
    assert fake_time.sleeps == [2.0, 2.0]
    assert len(dispatches(github_sandbox)) == 1


async def test_status_follows_the_run_from_queued_to_its_conclusion(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox
) -> None:
    handle = await backend.start(make_launch())
    run_id = next(iter(github_sandbox.runs))

    queued = await backend.status(handle.id)
    github_sandbox.start_run(run_id)
    running = await backend.status(handle.id)
    github_sandbox.complete_run(run_id, "success")
    succeeded = await backend.status(handle.id)
    github_sandbox.complete_run(run_id, "failure")
    failed = await backend.status(handle.id)

    observed = [(h.state, h.backend_state, h.exit_code) for h in (queued, running, succeeded, failed) if h]
    assert observed == [
        ("starting", "queued", None),
        ("started", "in_progress", None),
        ("stopped", "success", 0),
        ("stopped", "failure", 1),
    ]
    assert succeeded is not None
    assert succeeded.metadata == {"repo": f"{OWNER}/{REPO}", "dispatch": DISPATCH}
    assert await backend.status(f"{OWNER}/{REPO}/1") is None
    with pytest.raises(ValueError, match="owner/repo/run_id"):
        await backend.status("not-a-run")


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("requested", "created"),
        ("pending", "created"),
        ("waiting", "created"),
        ("queued", "starting"),
        ("in_progress", "started"),
        ("completed", "stopped"),
        ("something-new", "unknown"),
        (None, "unknown"),
    ],
)
def test_every_run_status_maps_to_a_session_state(status: str | None, state: str) -> None:
    assert session_state(WorkflowRun(id=1, status=status)) == state


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("eng-42-implementation-1", "eng-42-implementation-1"),
        ("AI Implement: eng-42-implementation-1", "eng-42-implementation-1"),
        ("eng-42-implementation-1 in ai-implement", "eng-42-implementation-1"),
        ("Nightly build", None),
        ("", None),
    ],
)
def test_the_dispatch_name_is_read_from_the_title(title: str, name: str | None) -> None:
    assert dispatch_name_in(title) == name
    assert read_run_title(title).namespace == ("ai-implement" if title.endswith(" in ai-implement") else None)
    assert names_dispatch(title, "eng-42-implementation-1") is (name == "eng-42-implementation-1")


async def test_destroy_cancels_and_is_idempotent(backend: GitHubActionsBackend, github_sandbox: GitHubSandbox) -> None:
    handle = await backend.start(make_launch())

    await backend.destroy(handle.id)
    await backend.destroy(handle.id)
    await backend.destroy(f"{OWNER}/{REPO}/1")

    [run] = github_sandbox.runs.values()
    assert (run.status, run.conclusion) == ("completed", "cancelled")
    after = await backend.status(handle.id)
    assert after is not None
    assert (after.state, after.backend_state, after.exit_code) == ("stopped", "cancelled", 1)


async def test_list_live_reports_queued_and_running_runs_of_the_workflow_in_the_given_repos(
    backend: GitHubActionsBackend, github: GitHubClient, github_sandbox: GitHubSandbox
) -> None:
    other = RepoRef(owner=OWNER, name=OTHER_REPO, default_branch="main")
    queued = await backend.start(make_launch(dispatch_name="eng-1-implementation-1"))
    running = await backend.start(make_launch(dispatch_name="ops-2-review-1", repo=other))
    done = await backend.start(make_launch(dispatch_name="eng-3-implementation-1"))
    github_sandbox.add_workflow(OWNER, REPO, "ci.yml", inputs=["dispatch"])
    for handle in (running, done):
        github_sandbox.start_run(int(handle.id.rsplit("/", 1)[1]))
    github_sandbox.complete_run(int(done.id.rsplit("/", 1)[1]))
    await github.dispatch_workflow(OWNER, REPO, "ci.yml", ref="main", inputs={"dispatch": "eng-4-implementation-1"})

    live = await backend.list_live([RepoRef(owner=OWNER, name=REPO, default_branch="main"), other])
    only_web = await backend.list_live([RepoRef(owner=OWNER, name=REPO, default_branch="main")])

    assert sorted((h.id, h.state, h.metadata["dispatch"], h.metadata["repo"]) for h in live) == sorted(
        [
            (queued.id, "starting", "eng-1-implementation-1", f"{OWNER}/{REPO}"),
            (running.id, "started", "ops-2-review-1", f"{OWNER}/{OTHER_REPO}"),
        ]
    )
    assert [h.id for h in only_web] == [queued.id]
    assert await backend.list_live() == []


async def test_a_started_run_reaches_the_hook_with_an_actions_style_identity_token(
    backend: GitHubActionsBackend, github_sandbox: GitHubSandbox, fake_time: FakeTime
) -> None:
    started: list[StartedRun] = []

    async def remember(run: StartedRun) -> None:
        started.append(run)

    github_sandbox.start_runs = True
    github_sandbox.on_run_started = remember

    handle = await backend.start(make_launch())
    await github_sandbox.idle()

    [run] = started
    assert (run.backend, run.dispatch_name, run.environment["issue_identifier"]) == (
        "github-actions",
        DISPATCH,
        "ENG-42",
    )
    assert handle.id.endswith(f"/{run.run_id}")
    token = run.identity_token("ai-implement") if run.identity_token else ""
    claims = await _verified_claims(github_sandbox, token, audience="ai-implement")
    assert claims["iss"] == f"{github_sandbox.url}/oidc"
    assert claims["sub"] == f"repo:{OWNER}/{REPO}:ref:refs/heads/main"
    assert claims["workflow_ref"] == f"{OWNER}/{REPO}/.github/workflows/{WORKFLOW}@refs/heads/main"
    assert (claims["repository"], claims["repository_owner"]) == (f"{OWNER}/{REPO}", OWNER)
    assert (claims["run_id"], claims["run_attempt"], claims["event_name"]) == (run.run_id, "1", "workflow_dispatch")
    assert (claims["ref"], claims["actor"]) == ("refs/heads/main", "ai-implement[bot]")
    assert claims["sha"] == github_sandbox.repo(OWNER, REPO).refs["refs/heads/main"]
    assert claims["iat"] == int(fake_time.now)
    after = await backend.status(handle.id)
    assert after is not None
    assert after.state == "started"


async def _verified_claims(sandbox: GitHubSandbox, token: str, *, audience: str) -> dict[str, Any]:
    """Verify as the controller would: discovery, then the published keys (on the sandbox's time)."""
    async with httpx.AsyncClient() as http:
        discovery = (await http.get(f"{sandbox.url}/oidc/.well-known/openid-configuration")).json()
        keys = jwt.PyJWKSet.from_dict((await http.get(discovery["jwks_uri"])).json())
    key = keys[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=audience,
        issuer=discovery["issuer"],
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return claims
