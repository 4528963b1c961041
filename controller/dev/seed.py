"""What `ai-implement dev` starts with: sandboxes holding sample teams, tickets, repositories and mappings.

Two mappings show the two kinds of run: `ENG` (Linear team ENG → acme/webapp, planning first, on
GitHub Actions) and `OPS` (Linear team OPS → acme/infra, on Fly Machines). Their tickets end in
every way a newcomer should see: a pull request, a failure in the test step, and a second ticket
waiting for the concurrency cap. A Fly machine nobody owns is left for the reaper's first sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from controller import constants
from controller.runners.github_actions import WORKFLOW_INPUTS
from controller.sandbox.fly import FlySandbox
from controller.sandbox.github import GitHubSandbox
from controller.sandbox.linear import LinearSandbox
from controller.sandbox.runner import Ending, RunScript, SandboxRunner

APP_ID = 424242
OWNER = "acme"
LINEAR_KEY = "lin_api_devSandboxKey0123456789abcdefABCD"
FLY_APP = "ai-implement-sessions"
FLY_TOKEN = "fm2_devSandboxSessionsToken0123456789"
AI_LABEL = "AI-Implement"


@dataclass(frozen=True)
class SampleTicket:
    team: str
    title: str
    description: str
    script: RunScript


SAMPLE_TICKETS = (
    SampleTicket(
        "ENG",
        "Add a dark mode toggle to the settings page",
        "Users keep asking for it. Store the choice per user.",
        RunScript(step_seconds=1.5),
    ),
    SampleTicket(
        "ENG",
        "Fix the redirect loop after login on Safari",
        "Reproduces with third-party cookies blocked.",
        RunScript(ending=Ending.FAIL, fail_at="test", message="2 of 48 tests failed in auth/redirect.spec.ts"),
    ),
    SampleTicket(
        "OPS",
        "Rotate the staging TLS certificates",
        "They expire at the end of the month.",
        RunScript(step_seconds=30.0),  # a Fly session that lives two minutes, for the Sessions panel
    ),
)

SAMPLE_MAPPINGS: tuple[dict[str, Any], ...] = (
    {
        "teamKey": "ENG",
        "ticketing": {"provider": "linear", "linear": {"teamKey": "ENG"}},
        "source": {"owner": OWNER, "repo": "webapp", "defaultBranch": "main"},
        "runner": {"executionMode": "github-actions"},
        "capacity": {"maxInProgressAiIssues": 1, "maxJobMinutes": 30},
        "planning": {"enabled": True},
    },
    {
        "teamKey": "OPS",
        "ticketing": {"provider": "linear", "linear": {"teamKey": "OPS"}},
        "source": {"owner": OWNER, "repo": "infra", "defaultBranch": "main"},
        "runner": {"executionMode": "fly-machines"},
        "capacity": {"maxInProgressAiIssues": 2, "maxJobMinutes": 30},
        "planning": {"enabled": False},
    },
)


def mapping_resource(spec: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": spec["teamKey"].lower(), "namespace": namespace},
        "spec": spec,
    }


def seed_linear(linear: LinearSandbox, runner: SandboxRunner) -> None:
    linear.add_user("Dev Operator", "dev@example.com", api_key=LINEAR_KEY)
    for team in ("ENG", "OPS"):
        linear.add_team(team, {"ENG": "Engineering", "OPS": "Operations"}[team])
    linear.add_label(AI_LABEL)
    for ticket in SAMPLE_TICKETS:
        issue = linear.add_issue(ticket.team, ticket.title, description=ticket.description, labels=[AI_LABEL])
        runner.scripts[issue.identifier] = ticket.script


def seed_github(github: GitHubSandbox, app_key: rsa.RSAPrivateKey) -> None:
    github.add_app(APP_ID, app_key.public_key())
    repos = [str(spec["source"]["repo"]) for spec in SAMPLE_MAPPINGS]
    for repo in repos:
        github.add_repo(OWNER, repo, files={"README.md": f"# {repo}\n", "src/app.py": "print('hello')\n"})
        github.add_workflow(OWNER, repo, inputs=WORKFLOW_INPUTS)
    github.install_app(APP_ID, OWNER, repos=repos)


LEFTOVER_AGE_SECONDS = 3 * 3600
"""A machine left over from a crashed controller, old enough for the reaper's first sweep to destroy."""


def seed_fly(fly: FlySandbox) -> None:
    """The sessions app, and one machine nobody owns, for the Reaper panel to show an action at once."""
    fly.add_app(FLY_APP)
    fly.add_token(FLY_TOKEN, apps=[FLY_APP])
    fly.add_machine(FLY_APP, name="leftover-from-last-week", created_at=fly.clock() - LEFTOVER_AGE_SECONDS)
