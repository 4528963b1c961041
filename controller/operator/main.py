"""`ai-implement operator`: kopf's handlers and, on the replica holding the Lease, the pollers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

import kopf

from controller.config import Settings
from controller.operator.handlers import PEERING_NAME, build_registry
from controller.operator.runtime import open_operator_runtime

logger = logging.getLogger("controller.operator")


async def run_operator(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM (kopf installs the handlers); leadership is released on the way out."""
    async with open_operator_runtime(settings) as runtime:
        leading = asyncio.create_task(runtime.elector.run(runtime.lead), name="leader-election")
        try:
            await kopf.operator(
                registry=build_registry(runtime),
                namespaces=[runtime.namespace],
                clusterwide=False,
                standalone=False,
                peering_name=PEERING_NAME,
                priority=secrets.randbelow(2**31 - 2) + 1,
            )
        finally:
            leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leading
