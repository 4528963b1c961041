"""Jira Cloud: the REST v3 client (through the cloud-ID gateway), its result types and its exceptions."""

from controller.ticketing.jira.adf import adf_document, adf_text
from controller.ticketing.jira.client import (
    DEFAULT_AI_LABEL,
    DEFAULT_GATEWAY_URL,
    DEFAULT_IMPLEMENTING_STATUS,
    JiraClient,
    jira_reset_wait,
)
from controller.ticketing.jira.errors import (
    JiraAuthError,
    JiraError,
    JiraForbidden,
    JiraNotFound,
    JiraRateLimited,
    JiraTransitionNotAvailable,
    JiraUnavailable,
)
from controller.ticketing.jira.jql import MAX_JQL_CHARS, ai_ticket_queries, quote_jql_string, without_order_by
from controller.ticketing.jira.models import (
    COMMENT_PROPERTY_KEY,
    JiraComment,
    JiraField,
    JiraFieldOption,
    JiraFieldSchema,
    JiraStatus,
    JiraStatusCategory,
    JiraTransition,
    JiraUser,
    JqlValidation,
)
from controller.ticketing.jira.tickets import (
    DEFAULT_CANCELLED_STATUSES,
    field_values,
    repo_field_id,
    route_keys,
    state_category,
)

__all__ = [
    "COMMENT_PROPERTY_KEY",
    "DEFAULT_AI_LABEL",
    "DEFAULT_CANCELLED_STATUSES",
    "DEFAULT_GATEWAY_URL",
    "DEFAULT_IMPLEMENTING_STATUS",
    "MAX_JQL_CHARS",
    "JiraAuthError",
    "JiraClient",
    "JiraComment",
    "JiraError",
    "JiraField",
    "JiraFieldOption",
    "JiraFieldSchema",
    "JiraForbidden",
    "JiraNotFound",
    "JiraRateLimited",
    "JiraStatus",
    "JiraStatusCategory",
    "JiraTransition",
    "JiraTransitionNotAvailable",
    "JiraUnavailable",
    "JiraUser",
    "JqlValidation",
    "adf_document",
    "adf_text",
    "ai_ticket_queries",
    "field_values",
    "jira_reset_wait",
    "quote_jql_string",
    "repo_field_id",
    "route_keys",
    "state_category",
    "without_order_by",
]
