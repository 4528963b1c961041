"""The installation cases 3, 4 and 7 drive: a namespace of mappings, the sandboxes and the operator's settings.

Each team has a mapping, a Linear team and a GitHub repository with the App installed and the
runner workflow committed; the Dispatches run on GitHub Actions (the sandbox records each run and
when it was asked for). The sandboxes serve from the bench's process; the operator and the API run
in their own (`processes.py`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.suite.lab import AI_LABEL, LINEAR_KEY, Lab, linear_mapping
from bench.suite.poll_cost import apply_mappings
from controller import constants
from controller.kube import KubeClient
from controller.resources.dispatch import dispatch_name_for, label_value
from controller.runners.github_actions import WORKFLOW_INPUTS
from controller.sandbox import LinearSandbox
from controller.sandbox.github import GitHubSandbox
from controller.sandbox.linear import LinearIssueState

APP_ID = 4242
RUNNER_TOKEN_SECRET = "bench-runner-token-secret-0123456789"


def poller_dispatch(
    namespace: str, identifier: str, issue_id: str, title: str, url: str, *, open_: bool = True
) -> dict[str, Any]:
    """An implementation Dispatch for a Linear ticket as the poller creates it (name, labels, spec);
    `open_=False` leaves out kopf's finalizer, which a closed Dispatch no longer carries."""
    team = identifier.split("-")[0]
    metadata: dict[str, Any] = {
        "name": dispatch_name_for(identifier, "implementation", 1),
        "namespace": namespace,
        "labels": {
            constants.LABEL_TEAM: label_value(team),
            constants.LABEL_ISSUE: label_value(identifier),
            constants.LABEL_KIND: "implementation",
        },
    }
    if open_:
        metadata["finalizers"] = [constants.FINALIZER]
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.DISPATCH_KIND,
        "metadata": metadata,
        "spec": {
            "mapping": team,
            "issue": {"provider": "linear", "id": issue_id, "identifier": identifier, "title": title, "url": url},
            "kind": "implementation",
            "iteration": 1,
            "runnerMode": "github-actions",
        },
    }


@dataclass
class Fleet:
    namespace: str
    linear: LinearSandbox
    github: GitHubSandbox
    issues: list[LinearIssueState]

    def dispatch(self, n: int) -> dict[str, Any]:
        """The Dispatch the poller would create for ticket `n`."""
        issue = self.issues[n]
        return poller_dispatch(self.namespace, issue.identifier, issue.id, issue.title, issue.url)

    def runs_per_dispatch(self) -> Counter[str]:
        """How many workflow runs the GitHub sandbox started for each Dispatch (its `dispatch` input)."""
        return Counter(run.inputs.get("dispatch", "") for run in self.github.runs.values())

    def run_started_at(self) -> dict[str, float]:
        """When the backend was asked to start each Dispatch's first run (epoch seconds, the sandbox's clock)."""
        started: dict[str, float] = {}
        for run in sorted(self.github.runs.values(), key=lambda run: run.created_at):
            started.setdefault(run.inputs.get("dispatch", ""), run.created_at)
        return started

    def environment(self, lab: Lab, **variables: str) -> dict[str, str]:
        """What the operator and the API both read, plus `variables`."""
        return {
            "KUBECONFIG": str(lab.kubeconfig),
            "AI_IMPLEMENT_NAMESPACE": self.namespace,
            "DEDUP_DB_PATH": str(lab.work / f"{self.namespace}.sqlite"),
            "GITHUB_APP_ID": str(APP_ID),
            "GITHUB_APP_PRIVATE_KEY": lab.app_key_pem,
            "GITHUB_API_URL": str(self.github.url),
            "LINEAR_API_KEY": LINEAR_KEY,
            "LINEAR_API_URL": f"{self.linear.url}/graphql",
            "RUNNER_CALLBACK_BASE_URL": "https://ai-implement.example.com",
            "RUNNER_TOKEN_SECRET": RUNNER_TOKEN_SECRET,
            "LEADER_LEASE_SECONDS": "6",
            "LOG_LEVEL": "WARNING",
            **variables,
        }


async def new_fleet(lab: Lab, kube: KubeClient, prefix: str, *, teams: int, tickets: int, cap: int = 1) -> Fleet:
    """A fresh namespace with `teams` mappings (each `cap` tickets at once), and sandboxes (not yet
    serving) holding `tickets` unlabelled tickets spread over the teams: the poller leaves them alone
    until a case labels them."""
    namespace = lab.new_namespace(prefix)
    linear = LinearSandbox(request_limit=10_000_000, complexity_limit=10**12, deliver_webhooks_in_background=True)
    linear.add_user("Bench", "bench@example.com", api_key=LINEAR_KEY)
    linear.add_label(AI_LABEL)
    github = GitHubSandbox(rate_limit=10_000_000)
    github.add_app(APP_ID, lab.app_key_pem)
    for team in range(teams):
        linear.add_team(f"T{team}", f"Team {team}")
        github.add_repo("acme", f"repo-{team}")
        github.install_app(APP_ID, "acme", repos=[f"repo-{team}"])
        github.add_workflow("acme", f"repo-{team}", inputs=WORKFLOW_INPUTS)
    issues = [
        linear.add_issue(f"T{n % teams}", f"Ticket {n}: make the thing do the other thing") for n in range(tickets)
    ]
    mappings = [linear_mapping(namespace, team, capacity={"maxInProgressAiIssues": cap}) for team in range(teams)]
    await apply_mappings(kube, mappings)
    return Fleet(namespace, linear, github, issues)
