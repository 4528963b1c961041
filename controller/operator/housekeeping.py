"""The store's housekeeping on the leader: what no longer matters is forgotten once an hour."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from controller.clock import Clock
from controller.operator.periodic import Sleep, every
from controller.store import Store

logger = logging.getLogger("controller.operator")

WEBHOOK_DELIVERY_MEMORY = timedelta(days=7)
"""How long delivery ids are remembered: longer than any provider keeps retrying a delivery."""
REAPER_HISTORY_MEMORY = timedelta(days=30)
"""How long reaper actions, sweeps and alerts are kept: the panel shows a day, people look back a month."""
SESSION_RESET_MEMORY = timedelta(days=7)


@dataclass
class Housekeeper:
    """Forgets what no longer matters: closed dedup entries, old delivery ids, expired tokens, old reaper history."""

    store: Store
    clock: Clock
    interval: float = 3600.0
    sleep: Sleep = asyncio.sleep

    async def sweep(self) -> dict[str, int]:
        now = self.clock()
        return {
            "dedup": await self.store.purge_dedup(now),
            "webhookDeliveries": await self.store.purge_webhook_deliveries(now - WEBHOOK_DELIVERY_MEMORY),
            "runnerTokens": await self.store.purge_expired_runner_tokens(now),
            "reaperHistory": await self.store.purge_reaper_history(now - REAPER_HISTORY_MEMORY),
            "sessionResets": await self.store.purge_session_resets(now - SESSION_RESET_MEMORY),
        }

    async def run(self) -> None:
        await every(self.interval, self._sweep_and_log, "housekeeping", sleep=self.sleep)

    async def _sweep_and_log(self) -> None:
        logger.info("housekeeping removed %s", await self.sweep())
