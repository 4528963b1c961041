"""The Jira Cloud sandbox: state (`state`), a JQL subset (`jql`), admin webhooks (`webhooks`), the server (`sandbox`).

See `controller.sandbox.jira.sandbox` for what it answers and docs/sandbox.md for how to use it.
"""

from controller.sandbox.jira.jql import JqlError, parse_jql
from controller.sandbox.jira.sandbox import API_PREFIX, DEFAULT_RATE_LIMIT_WAIT, JiraSandbox, iso_minute_at_or_after
from controller.sandbox.jira.state import (
    STATUS_CATEGORIES,
    FieldKind,
    JiraCommentState,
    JiraContextState,
    JiraFieldState,
    JiraIssueState,
    JiraOptionState,
    JiraProjectState,
    JiraSiteState,
    JiraStatusState,
    JiraUserState,
    JiraWorkflow,
    WorkflowTransition,
    default_workflow,
    jira_time,
)
from controller.sandbox.jira.webhooks import JiraWebhookState, jira_signature

__all__ = [
    "API_PREFIX",
    "DEFAULT_RATE_LIMIT_WAIT",
    "STATUS_CATEGORIES",
    "FieldKind",
    "JiraCommentState",
    "JiraContextState",
    "JiraFieldState",
    "JiraIssueState",
    "JiraOptionState",
    "JiraProjectState",
    "JiraSandbox",
    "JiraSiteState",
    "JiraStatusState",
    "JiraUserState",
    "JiraWebhookState",
    "JiraWorkflow",
    "JqlError",
    "WorkflowTransition",
    "default_workflow",
    "iso_minute_at_or_after",
    "jira_signature",
    "jira_time",
    "parse_jql",
]
