"""What `ai-implement dev` starts with: sandboxes holding sample teams, tickets, repositories and mappings.

Three mappings show every provider and backend: `ENG` (Linear team ENG → acme/webapp, planning
first, on GitHub Actions), `OPS` (Linear team OPS → acme/infra, on Fly Machines) and `PAY` (Jira
project PAY, Repo field `payments-service` → acme/payments-service, in local Docker). Their tickets
end in every way a newcomer should see: a pull request, a failure in the test step, a run that
falls silent and times out (`make dev` stalls a run after one minute without progress), and a
second ticket waiting for the concurrency cap. A Fly machine nobody owns is left for the reaper's first
sweep. One ticket of each provider is left unlabelled for the story (`controller.dev.story`) to
label once everything runs, and every webhook (Linear, Jira, GitHub, the comment trigger) points at
the API with secrets made for this run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from controller import constants
from controller.resources import ProjectMappingSpec
from controller.runners.github_actions import WORKFLOW_INPUTS
from controller.sandbox.fly import FlySandbox
from controller.sandbox.github import GitHubSandbox
from controller.sandbox.jira import FieldKind, JiraSandbox
from controller.sandbox.linear import LinearSandbox
from controller.sandbox.runner import Ending, RunScript, SandboxRunner
from controller.workflows.rendering import COMMENT_TRIGGER_PATH, render_templates

APP_ID = 424242
OWNER = "acme"
LINEAR_KEY = "lin_api_devSandboxKey0123456789abcdefABCD"
FLY_APP = "ai-implement-sessions"
FLY_TOKEN = "fm2_devSandboxSessionsToken0123456789"
AI_LABEL = "AI-Implement"
JIRA_TOKEN = "ATATT3xDevSandboxJiraToken0123456789"
JIRA_CLOUD_ID = "5a1d7c3e-0d1e-4c0f-9a7b-de7000000001"
JIRA_SITE_URL = "https://acme-dev.atlassian.net"
JIRA_PROJECT = "PAY"
JIRA_REPO_FIELD = "customfield_10042"
JIRA_REPO = "payments-service"


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

STORY_LINEAR_TICKET = SampleTicket(
    "OPS",
    "Add a readiness probe to the billing worker",
    "Kubernetes restarts it during deploys because it has none.",
    RunScript(step_seconds=1.0),
)
"""Created unlabelled; the story labels it once everything runs, and its webhook dispatches it."""
JIRA_TICKETS = (
    SampleTicket(
        JIRA_PROJECT,
        "Refund partially shipped orders",
        "Refund only the items that did not ship.",
        RunScript(step_seconds=1.0),
    ),
    SampleTicket(
        JIRA_PROJECT,
        "Move the billing cron to the new scheduler",
        "The old scheduler is switched off next quarter.",
        RunScript(ending=Ending.HANG, fail_at="implement", step_seconds=1.0),  # falls silent: it times out
    ),
)
STORY_JIRA_TICKET = SampleTicket(
    JIRA_PROJECT,
    "Show VAT on invoice PDFs",
    "Finance needs the VAT amount on every invoice line.",
    RunScript(step_seconds=1.0),
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
    {
        "teamKey": JIRA_PROJECT,
        "ticketing": {
            "provider": "jira",
            "jira": {"jql": f"project = {JIRA_PROJECT}", "repoField": JIRA_REPO_FIELD, "repoFieldValue": JIRA_REPO},
        },
        "source": {"owner": OWNER, "repo": JIRA_REPO, "defaultBranch": "main"},
        "runner": {"executionMode": "local"},
        "capacity": {"maxInProgressAiIssues": 2, "maxJobMinutes": 30},
        "planning": {"enabled": False},
    },
)


@dataclass(frozen=True)
class WebhookSecrets:
    """Made anew for each `ai-implement dev`: the sandboxes sign with them, the API checks them."""

    linear: str
    jira: str
    github: str
    gap_fill_trigger: str

    @classmethod
    def generate(cls) -> WebhookSecrets:
        return cls(*(secrets.token_hex(32) for _ in range(4)))


def mapping_resource(spec: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": spec["teamKey"].lower(), "namespace": namespace},
        "spec": spec,
    }


def seed_linear(linear: LinearSandbox, runner: SandboxRunner, api_url: str, secret: str) -> str:
    """Teams, labelled tickets and the webhook; returns the identifier of the story's unlabelled ticket."""
    linear.add_user("Dev Operator", "dev@example.com", api_key=LINEAR_KEY)
    for team in ("ENG", "OPS"):
        linear.add_team(team, {"ENG": "Engineering", "OPS": "Operations"}[team])
    linear.add_label(AI_LABEL)
    for ticket in SAMPLE_TICKETS:
        issue = linear.add_issue(ticket.team, ticket.title, description=ticket.description, labels=[AI_LABEL])
        runner.scripts[issue.identifier] = ticket.script
    story = STORY_LINEAR_TICKET
    later = linear.add_issue(story.team, story.title, description=story.description)
    runner.scripts[later.identifier] = story.script
    linear.add_webhook(f"{api_url}/api/linear/webhook", secret)
    return later.identifier


def seed_jira(jira: JiraSandbox, runner: SandboxRunner, api_url: str, secret: str) -> str:
    """A site, project PAY with its Repo field, labelled tickets and the webhook; returns the story's ticket."""
    jira.add_site(JIRA_CLOUD_ID, site_url=JIRA_SITE_URL)
    jira.add_user("Dev Operator", "dev@example.com", token=JIRA_TOKEN)
    jira.add_project(JIRA_PROJECT, "Payments")
    jira.add_field("Repo", FieldKind.SELECT, options=[JIRA_REPO, "ledger"], field_id=JIRA_REPO_FIELD)
    for ticket in JIRA_TICKETS:
        issue = jira.add_issue(
            ticket.team, ticket.title, description=ticket.description, labels=[AI_LABEL], fields={"Repo": JIRA_REPO}
        )
        runner.scripts[issue.key] = ticket.script
    story = STORY_JIRA_TICKET
    later = jira.add_issue(story.team, story.title, description=story.description, fields={"Repo": JIRA_REPO})
    runner.scripts[later.key] = story.script
    jira.add_webhook(f"{api_url}/api/jira/webhook", secret)
    return later.key


def seed_github(github: GitHubSandbox, app_key: rsa.RSAPrivateKey, api_url: str, webhooks: WebhookSecrets) -> None:
    """The App and its repositories, each with the dispatch workflow and the synced comment trigger."""
    github.add_app(APP_ID, app_key.public_key())
    repos = [str(spec["source"]["repo"]) for spec in SAMPLE_MAPPINGS]
    for spec in SAMPLE_MAPPINGS:
        repo = str(spec["source"]["repo"])
        github.add_repo(OWNER, repo, files={"README.md": f"# {repo}\n", "src/app.py": "print('hello')\n"})
        github.add_workflow(OWNER, repo, inputs=WORKFLOW_INPUTS)
        trigger = render_templates(ProjectMappingSpec.model_validate(spec))[COMMENT_TRIGGER_PATH]
        github.commit_files(OWNER, repo, "main", {COMMENT_TRIGGER_PATH: trigger}, message="Add the comment trigger")
        github.set_comment_trigger(OWNER, repo, url=api_url, secret=webhooks.gap_fill_trigger)
    github.install_app(APP_ID, OWNER, repos=repos)
    github.set_app_webhook(APP_ID, f"{api_url}/api/github/webhook", webhooks.github)


LEFTOVER_AGE_SECONDS = 3 * 3600
"""A machine left over from a crashed controller, old enough for the reaper's first sweep to destroy."""


def seed_fly(fly: FlySandbox) -> None:
    """The sessions app, and one machine nobody owns, for the Reaper panel to show an action at once."""
    fly.add_app(FLY_APP)
    fly.add_token(FLY_TOKEN, apps=[FLY_APP])
    fly.add_machine(FLY_APP, name="leftover-from-last-week", created_at=fly.clock() - LEFTOVER_AGE_SECONDS)
