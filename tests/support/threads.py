"""Running an async server (a sandbox) in a thread of its own, for synchronous tests such as the fuzzer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from controller.sandbox import Sandbox


@contextmanager
def sandbox_in_thread(sandbox: Sandbox) -> Iterator[str]:
    """Serve the sandbox on its own event loop until the block ends; yields its base URL."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: asyncio.Event | None = None
    base_url: list[str] = []

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with sandbox.running() as url:
            base_url.append(url)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not started.wait(timeout=30):
        raise RuntimeError("the sandbox did not start within 30 s")
    try:
        yield base_url[0]
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()
