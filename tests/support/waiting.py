"""Waiting for eventually-consistent things (watch-fed caches) without asserting how fast they are."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> None:
    """Poll `check` until it holds; fail with TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        while True:
            outcome = check()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.05)
