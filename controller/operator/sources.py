"""The ticketing clients the operator polls, built from the settings and closed with the operator."""

from __future__ import annotations

from contextlib import AsyncExitStack

from controller.config import Settings
from controller.ticketing.jira import JiraClient
from controller.ticketing.linear import LinearClient
from controller.ticketing.model import Provider, TicketSource


async def open_ticket_sources(settings: Settings, stack: AsyncExitStack) -> dict[Provider, TicketSource]:
    """One client per configured provider; a provider without credentials is simply not polled."""
    sources: dict[Provider, TicketSource] = {}
    if settings.linear_api_key is not None:
        sources["linear"] = await stack.enter_async_context(
            LinearClient(
                settings.linear_api_key.get_secret_value(),
                endpoint=settings.linear_api_url,
                ai_label=settings.ai_implement_label,
                working_label=settings.ai_working_label,
            )
        )
    token, cloud_id = settings.jira_token, settings.jira_cloud_id
    if settings.jira_configured and token is not None and cloud_id is not None:
        sources["jira"] = await stack.enter_async_context(
            JiraClient(
                token.get_secret_value(),
                cloud_id,
                site_url=settings.jira_site_url,
                ai_label=settings.ai_implement_label,
                implementing_status=settings.jira_implementing_status,
                gateway_url=settings.jira_api_base_url,
            )
        )
    return sources
