"""An operator killed between any two steps of a run: the next one finishes the job and starts exactly one run.

The first operator leads under kopf until its checkpoint is reached at the chosen step; there its
daemon stops for good (it blocks until cancelled) and its term is cut off, so nothing after that
point ever happens, as when the process dies. A fresh runtime (new clients, caches and kopf over the
same cluster, store and sandboxes) then leads, as the next replica would.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from controller.operator.runtime import OperatorRuntime
from controller.sandbox import LinearSandbox
from tests.operator.conftest import apply_mapping, cached
from tests.operator.run_fixtures import RunLoop

NAME = "eng-1-implementation-1"
START_STEPS = ["starting", "ticket-marked", "dedup-recorded", "tokens-recorded", "run-started", "session-created"]


class DiesAt:
    """A checkpoint that, at `point`, never returns: the work after it is lost with the process."""

    def __init__(self, point: str) -> None:
        self.point = point
        self.reached = asyncio.Event()

    async def __call__(self, name: str) -> None:
        if name == self.point and not self.reached.is_set():
            self.reached.set()
            await asyncio.Event().wait()  # until kopf cancels the daemon: nothing after this point runs


async def first_operator_dies(loop: RunLoop, linear: LinearSandbox, point: str) -> OperatorRuntime:
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG", planning={"enabled": False})
    linear.add_issue("ENG", "Add dark mode", labels=["AI-Implement"])
    dies = DiesAt(point)
    first = await loop.operator(checkpoint=dies)
    await cached(first, "eng")
    term = await loop.lead(first)
    try:
        await asyncio.wait_for(dies.reached.wait(), 60)
    except TimeoutError:
        pytest.fail(f"the first operator never reached {point}")
    term.cancel()  # the process is gone: its term ends here, and kopf cancels the daemon stuck above
    with contextlib.suppress(asyncio.CancelledError):
        await term
    return first


@pytest.mark.parametrize("point", START_STEPS)
async def test_a_start_interrupted_at_any_step_ends_with_exactly_one_run(
    loop: RunLoop, linear: LinearSandbox, point: str
) -> None:
    await first_operator_dies(loop, linear, point)

    second = await loop.operator()
    await cached(second, "eng")
    await loop.lead(second)
    status = await loop.until_closed(NAME)

    assert status["phase"] == "Succeeded", status.get("error")
    assert len(loop.github.runs) == 1
    assert len(loop.runner.runs) == 1
    assert len(linear.comments_on("ENG-1")) == 1


async def test_a_close_out_interrupted_after_the_ticket_comments_once_and_notifies_once(
    loop: RunLoop, linear: LinearSandbox
) -> None:
    await first_operator_dies(loop, linear, "ticket-updated")
    assert len(linear.comments_on("ENG-1")) == 1

    second = await loop.operator()
    await cached(second, "eng")
    await loop.lead(second)
    status = await loop.until_closed(NAME)

    assert status["phase"] == "Succeeded"
    assert len(linear.comments_on("ENG-1")) == 1
    assert len(loop.chat.slack_messages) == 1
