"""Fixtures of the web tests that need a sandbox site beside the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from controller.sandbox import JiraSandbox
from tests.support.jira_site import jira_site_sandbox


@pytest.fixture
async def jira_site() -> AsyncIterator[JiraSandbox]:
    sandbox = jira_site_sandbox()
    async with sandbox.running():
        yield sandbox
