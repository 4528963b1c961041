"""Cached "who am I" probes of the ticketing providers, for the environment-status checks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from controller.clock import Clock
from controller.httpclient import ServiceError

IdentityProbe = Callable[[], Awaitable[str]]
"""One authenticated call that returns who the credentials belong to, or raises ServiceError."""

PROBE_TIMEOUT = timedelta(seconds=5)
PROBE_CACHE_TTL = timedelta(seconds=60)


class CheckStatus(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass
class IdentityCache:
    """Remembers each probe's last answer for a while; failures are remembered too, just as briefly."""

    clock: Clock
    ttl: timedelta = PROBE_CACHE_TTL
    _answers: dict[str, tuple[datetime, CheckStatus, str]] = field(default_factory=dict)

    async def check(self, provider: str, probe: IdentityProbe) -> tuple[datetime, CheckStatus, str]:
        cached = self._answers.get(provider)
        now = self.clock()
        if cached is not None and now - cached[0] < self.ttl:
            return cached
        try:
            async with asyncio.timeout(PROBE_TIMEOUT.total_seconds()):
                who = await probe()
            answer = (now, CheckStatus.OK, f"connected as {who}")
        except TimeoutError:
            answer = (now, CheckStatus.ERROR, f"no answer within {PROBE_TIMEOUT.seconds} s")
        except ServiceError as error:
            answer = (now, CheckStatus.ERROR, error.message)
        self._answers[provider] = answer
        return answer
