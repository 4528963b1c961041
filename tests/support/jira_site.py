"""A Jira site in the sandbox with a user, an administrator and a select field, and an API that uses it."""

from __future__ import annotations

from contextlib import AsyncExitStack

from controller.config import load_settings
from controller.sandbox import JiraSandbox
from controller.sandbox.jira import FieldKind
from controller.ticketing.clients import open_ticketing_clients
from tests.support.api_fixtures import Api, ApiFactory

CLOUD_ID = "0f8b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
SITE_URL = "https://acme.atlassian.net"
USER_TOKEN = "jira-user-token"
ADMIN_TOKEN = "jira-admin-token"
REPO_FIELD = "customfield_10042"
REPO_OPTIONS = ("payments-service", "ledger")


def jira_site_sandbox() -> JiraSandbox:
    """Project PAY and a select field Repo; its options are listed to the administrator alone."""
    sandbox = JiraSandbox()
    sandbox.add_site(CLOUD_ID, site_url=SITE_URL)
    sandbox.add_user("Grace Hopper", "grace@example.com", token=USER_TOKEN)
    sandbox.add_user("Jira Admin", "admin@example.com", token=ADMIN_TOKEN, admin=True)
    sandbox.add_project("PAY", "Payments")
    sandbox.add_field("Repo", FieldKind.SELECT, options=list(REPO_OPTIONS), field_id=REPO_FIELD)
    return sandbox


async def jira_api(start_api: ApiFactory, stack: AsyncExitStack, sandbox: JiraSandbox, token: str) -> Api:
    """The API with the production Jira client, signed in to the sandbox as the token's user."""
    env = {
        "JIRA_TOKEN": token,
        "JIRA_CLOUD_ID": CLOUD_ID,
        "JIRA_SITE_URL": SITE_URL,
        "JIRA_API_BASE_URL": str(sandbox.url),
    }
    clients = await open_ticketing_clients(load_settings(env, env_file=None), stack)
    api = await start_api(env=env)
    api.context.jira = clients.jira
    return api
