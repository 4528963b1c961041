"""Per-object wake-up signals: a watch event on an object wakes the loop that follows it.

A Dispatch is followed by one kopf daemon for as long as it is open (`handlers.py`). The daemon
sleeps until its next deadline, and kopf's event handler pokes it whenever the object changes
(a runner's callback, a session that ended, a cancellation), so it looks again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator


class Wakeups:
    def __init__(self) -> None:
        self._signals: dict[str, asyncio.Event] = {}

    def poke(self, name: str) -> None:
        """Something about `name` changed; a no-op when nothing follows it."""
        signal = self._signals.get(name)
        if signal is not None:
            signal.set()

    @contextlib.contextmanager
    def following(self, name: str) -> Iterator[Signal]:
        """The signal of `name` while one loop follows it (a second follower shares it)."""
        event = self._signals.setdefault(name, asyncio.Event())
        try:
            yield Signal(event)
        finally:
            if self._signals.get(name) is event:
                del self._signals[name]


class Signal:
    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    def clear(self) -> None:
        """Forget earlier pokes: called before reading the object, so that a change after it still wakes."""
        self._event.clear()

    async def wait(self, within: float | None, stopping: Awaitable[object]) -> None:
        """Until poked, `within` seconds passed (None: no limit), or `stopping` completes."""
        poked = asyncio.ensure_future(self._event.wait())
        stopped = asyncio.ensure_future(stopping)
        try:
            await asyncio.wait({poked, stopped}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (poked, stopped):
                task.cancel()
            await asyncio.gather(poked, stopped, return_exceptions=True)
