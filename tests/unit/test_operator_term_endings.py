"""How the end of kopf's run during a term is read: a signal stops the process, a failure stops it with the error."""

from __future__ import annotations

import asyncio

from controller.operator.main import _kopf_ended


async def _return() -> None:
    return None


async def _raise() -> None:
    raise RuntimeError("kopf could not log in")


async def test_kopf_returning_by_itself_means_a_signal_the_process_stops_cleanly() -> None:
    handlers = asyncio.create_task(_return())
    await asyncio.wait({handlers})
    stopping, failure = asyncio.Event(), list[BaseException]()
    _kopf_ended(handlers, stopping, failure)
    assert (stopping.is_set(), failure) == (True, [])


async def test_kopf_failing_stops_the_process_with_the_error() -> None:
    handlers = asyncio.create_task(_raise())
    await asyncio.wait({handlers})
    stopping, failure = asyncio.Event(), list[BaseException]()
    _kopf_ended(handlers, stopping, failure)
    assert stopping.is_set()
    assert [str(error) for error in failure] == ["kopf could not log in"]
