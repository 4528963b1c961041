"""The ticketing clients of one process, built from the settings and closed with it."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from controller.config import Settings
from controller.httpclient import RetryPolicy
from controller.ticketing.jira import JiraClient
from controller.ticketing.linear import LinearClient
from controller.ticketing.model import Provider, TicketSource


@dataclass(frozen=True)
class TicketingClients:
    """One client per configured provider; a provider without credentials has none."""

    linear: LinearClient | None
    jira: JiraClient | None

    def sources(self) -> dict[Provider, TicketSource]:
        found: dict[Provider, TicketSource] = {}
        if self.linear is not None:
            found["linear"] = self.linear
        if self.jira is not None:
            found["jira"] = self.jira
        return found


async def open_ticketing_clients(
    settings: Settings, stack: AsyncExitStack, *, retry: RetryPolicy | None = None
) -> TicketingClients:
    """Open the clients the settings allow; they close when `stack` does."""
    linear = None
    if settings.linear_api_key is not None:
        linear = await stack.enter_async_context(
            LinearClient(
                settings.linear_api_key.get_secret_value(),
                endpoint=settings.linear_api_url,
                ai_label=settings.ai_implement_label,
                working_label=settings.ai_working_label,
                workspace_url=settings.linear_workspace_url
                if settings.explicitly_set("LINEAR_WORKSPACE_URL")
                else None,
                retry=retry,
            )
        )
    jira = None
    token, cloud_id = settings.jira_token, settings.jira_cloud_id
    if settings.jira_configured and token is not None and cloud_id is not None:
        jira = await stack.enter_async_context(
            JiraClient(
                token.get_secret_value(),
                cloud_id,
                site_url=settings.jira_site_url,
                ai_label=settings.ai_implement_label,
                implementing_status=settings.jira_implementing_status,
                gateway_url=settings.jira_api_base_url,
                retry=retry,
            )
        )
    return TicketingClients(linear=linear, jira=jira)
