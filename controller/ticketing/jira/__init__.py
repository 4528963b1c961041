"""Jira Cloud: the REST v3 client (through the cloud-ID gateway) and its exceptions."""

from controller.ticketing.jira.client import DEFAULT_GATEWAY_URL, JiraClient, JiraUser, jira_reset_wait
from controller.ticketing.jira.errors import (
    JiraAuthError,
    JiraError,
    JiraForbidden,
    JiraNotFound,
    JiraRateLimited,
    JiraUnavailable,
)

__all__ = [
    "DEFAULT_GATEWAY_URL",
    "JiraAuthError",
    "JiraClient",
    "JiraError",
    "JiraForbidden",
    "JiraNotFound",
    "JiraRateLimited",
    "JiraUnavailable",
    "JiraUser",
    "jira_reset_wait",
]
