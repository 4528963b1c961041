"""The leader's periodic work: do it, sleep, do it again, until the term ends; an error never ends it.

Written once here for the pollers, the webhook wake-ups, the review loop, the workflow check, the
mapping status refresh, the census, the reaper and the session resets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

logger = logging.getLogger("controller.operator")

Sleep = Callable[[float], Awaitable[None]]


async def every(
    seconds: float,
    work: Callable[[], Awaitable[object]],
    what: str,
    *,
    sleep: Sleep = asyncio.sleep,
    failed: Callable[[], None] | None = None,
) -> NoReturn:
    """Run `work` every `seconds` until cancelled; what it raises is logged (and `failed` told), then it goes on."""
    while True:
        try:
            await work()
        except Exception:
            logger.exception("%s failed unexpectedly", what)
            if failed is not None:
                failed()
        await sleep(seconds)
