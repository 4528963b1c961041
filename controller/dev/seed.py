"""What `ai-implement dev` starts with: sandboxes holding sample teams, tickets, repositories and mappings.

Three mappings show every provider and backend: `ENG` (Linear team ENG → acme/webapp, planning
first, on GitHub Actions), `OPS` (Linear team OPS → acme/infra, on Fly Machines) and `PAY` (Jira
project PAY, Repo field `payments-service` → acme/payments-service, in local Docker). Every run is
the real runner program with the fake agent, cloning and pushing to the GitHub sandbox over git's
HTTP protocol, so the pull requests hold real commits. Their tickets end in every way a newcomer
should see: a pull request, a change the repository's own checks reject, an agent that dies
without an answer, a Fly session that works for two minutes, and a second ticket waiting for the
concurrency cap. A Fly machine nobody owns is left for the reaper's first sweep. One ticket of each
provider is left unlabelled for the story (`controller.dev.story`) to label once everything runs,
and every webhook (Linear, Jira, GitHub, the comment trigger) points at the API with secrets made
for this run.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from controller import constants
from controller.github.trigger_secrets import repository_trigger_secret
from controller.resources import ProjectMappingSpec
from controller.runners.github_actions import WORKFLOW_INPUTS
from controller.sandbox.fly import FlySandbox
from controller.sandbox.github import GitHubSandbox
from controller.sandbox.jira import FieldKind, JiraSandbox
from controller.sandbox.linear import LinearSandbox
from controller.sandbox.process_runner import ProcessRunner
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
    """A ticket of the story; the real runner works on it with the fake agent, `agent` set as its environment."""

    team: str
    title: str
    description: str
    agent: Mapping[str, str] = field(default_factory=dict)


SAMPLE_TICKETS = (
    SampleTicket(
        "ENG",
        "Add a dark mode toggle to the settings page",
        "Users keep asking for it. Store the choice per user.\n\n"
        "fake-agent: write src/theme.py DARK = {'background': '#111', 'text': '#eee'}",
        {"FAKE_AGENT_SECONDS": "2"},
    ),
    SampleTicket(
        "ENG",
        "Fix the redirect loop after login on Safari",
        "Reproduces with third-party cookies blocked.\n\nfake-agent: write src/auth.py redirect_to_login()",
        # the agent's change breaks the repository's own tests: the run fails in run-checks
    ),
    SampleTicket(
        "OPS",
        "Rotate the staging TLS certificates",
        "They expire at the end of the month.\n\nfake-agent: write certs/ROTATION.md Rotate with cert-manager.",
        {"FAKE_AGENT_SECONDS": "120"},  # a Fly session that lives two minutes, for the Sessions panel
    ),
)

STORY_LINEAR_TICKET = SampleTicket(
    "OPS",
    "Add a readiness probe to the billing worker",
    "Kubernetes restarts it during deploys because it has none.\n\n"
    "fake-agent: write deploy/probe.yaml readinessProbe: {httpGet: {path: /healthz, port: 8080}}",
)
"""Created unlabelled; the story labels it once everything runs, and its webhook dispatches it."""
JIRA_TICKETS = (
    SampleTicket(
        JIRA_PROJECT,
        "Refund partially shipped orders",
        "Refund only the items that did not ship.\n\nfake-agent: write src/refunds.py PARTIAL_REFUNDS = True",
    ),
    SampleTicket(
        JIRA_PROJECT,
        "Move the billing cron to the new scheduler",
        "The old scheduler is switched off next quarter.",
        {"FAKE_AGENT_ENDING": "crash"},  # the agent dies without an answer: the run fails with its stderr
    ),
)
STORY_JIRA_TICKET = SampleTicket(
    JIRA_PROJECT,
    "Show VAT on invoice PDFs",
    "Finance needs the VAT amount on every invoice line.\n\nfake-agent: write src/invoice_vat.py SHOW_VAT = True",
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


def seed_linear(linear: LinearSandbox, runner: ProcessRunner, api_url: str, secret: str) -> str:
    """Teams, labelled tickets and the webhook; returns the identifier of the story's unlabelled ticket."""
    linear.add_user("Dev Operator", "dev@example.com", api_key=LINEAR_KEY)
    for team in ("ENG", "OPS"):
        linear.add_team(team, {"ENG": "Engineering", "OPS": "Operations"}[team])
    linear.add_label(AI_LABEL)
    for ticket in SAMPLE_TICKETS:
        issue = linear.add_issue(ticket.team, ticket.title, description=ticket.description, labels=[AI_LABEL])
        runner.ticket_environment[issue.identifier] = dict(ticket.agent)
    story = STORY_LINEAR_TICKET
    later = linear.add_issue(story.team, story.title, description=story.description)
    runner.ticket_environment[later.identifier] = dict(story.agent)
    linear.add_webhook(f"{api_url}/api/linear/webhook", secret)
    return later.identifier


def seed_jira(jira: JiraSandbox, runner: ProcessRunner, api_url: str, secret: str) -> str:
    """A site, project PAY with its Repo field, labelled tickets and the webhook; returns the story's ticket."""
    jira.add_site(JIRA_CLOUD_ID, site_url=JIRA_SITE_URL)
    jira.add_user("Dev Operator", "dev@example.com", token=JIRA_TOKEN, admin=True)  # lists field options
    jira.add_project(JIRA_PROJECT, "Payments")
    jira.add_field("Repo", FieldKind.SELECT, options=[JIRA_REPO, "ledger"], field_id=JIRA_REPO_FIELD)
    for ticket in JIRA_TICKETS:
        issue = jira.add_issue(
            ticket.team, ticket.title, description=ticket.description, labels=[AI_LABEL], fields={"Repo": JIRA_REPO}
        )
        runner.ticket_environment[issue.key] = dict(ticket.agent)
    story = STORY_JIRA_TICKET
    later = jira.add_issue(story.team, story.title, description=story.description, fields={"Repo": JIRA_REPO})
    runner.ticket_environment[later.key] = dict(story.agent)
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
        rendered = render_templates(ProjectMappingSpec.model_validate(spec))
        files = {COMMENT_TRIGGER_PATH: rendered[COMMENT_TRIGGER_PATH], **_prompts_with_checks(rendered)}
        github.commit_files(OWNER, repo, "main", files, message="Add the comment trigger, prompts and tests")
        secret = repository_trigger_secret(webhooks.gap_fill_trigger, f"{OWNER}/{repo}")  # as an admin sets it
        github.set_comment_trigger(OWNER, repo, url=api_url, secret=secret)
    github.install_app(APP_ID, OWNER, repos=repos)
    github.set_app_webhook(APP_ID, f"{api_url}/api/github/webhook", webhooks.github)


SAMPLE_TEST_SUITE = """\
#!/bin/sh
# The sample repository's test suite: the redirect fix of ENG-2 loops, and these tests catch it.
if grep -rq "redirect_to_login()" src; then
  echo "2 of 48 tests failed in auth/redirect.spec.ts"
  exit 1
fi
echo "48 tests passed"
"""


def _prompts_with_checks(rendered: Mapping[str, str]) -> dict[str, str]:
    """The synced starters, WORKFLOW.md running the repository's tests (a prompt stays current when edited)."""
    workflow = rendered["WORKFLOW.md"].replace("# checks: [make lint, make test]", "checks: [sh scripts/test.sh]", 1)
    return {"WORKFLOW.md": workflow, "PLANNING.md": rendered["PLANNING.md"], "scripts/test.sh": SAMPLE_TEST_SUITE}


LEFTOVER_AGE_SECONDS = 3 * 3600
"""A machine left over from a crashed controller, old enough for the reaper's first sweep to destroy."""


def seed_fly(fly: FlySandbox) -> None:
    """The sessions app, and one machine nobody owns, for the Reaper panel to show an action at once."""
    fly.add_app(FLY_APP)
    fly.add_token(FLY_TOKEN, apps=[FLY_APP])
    fly.add_machine(FLY_APP, name="leftover-from-last-week", created_at=fly.clock() - LEFTOVER_AGE_SECONDS)
