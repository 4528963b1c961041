"""`ai-implement operator`: one Lease, and on the replica holding it, kopf's handlers and the pollers.

There is one election, the coordination Lease (`leadership.py`): a fenced Lease is the guard for
work that costs money. The leader runs kopf standalone (no kopf peering) beside its own periodic
work for exactly as long as its term lasts; a replica that is not leading reconciles nothing.
SIGINT and SIGTERM stop the process whether or not it leads: kopf catches them while it runs, and
this module's own handlers do the rest of the time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Collection, Coroutine, Iterator
from typing import Any, Final

import kopf

from controller.config import Settings
from controller.kube import KubeConnection
from controller.metrics import LEADER, clear_team_gauges
from controller.operator.endpoints import operator_app, serving
from controller.operator.handlers import build_registry
from controller.operator.runtime import OperatorRuntime, open_operator_runtime

logger = logging.getLogger("controller.operator")


class OperatorStopped(Exception):
    """The operator cannot go on (kopf failed during a term, its port is taken): the process exits with 1."""


async def run_operator(
    settings: Settings, *, serve_endpoints: bool = True, connection: KubeConnection | None = None
) -> None:
    """Run until SIGINT or SIGTERM; leadership is released on the way out.

    `serve_endpoints`: serve /metrics and /healthz on OPERATOR_PORT (`ai-implement dev` does not: its
    API serves the same metrics from the same process).
    """
    opened = open_operator_runtime(settings, connection=connection)
    async with opened as runtime, contextlib.AsyncExitStack() as stack:
        stopping = asyncio.Event()
        failure: list[BaseException] = []
        _stop_on_signals(stopping)
        electing = asyncio.Event()
        if serve_endpoints:
            app = operator_app(electing=electing.is_set, leading=lambda: runtime.elector.is_leader)
            try:
                await stack.enter_async_context(serving(app, settings.operator_port))
            except OSError as error:
                raise OperatorStopped(
                    f"cannot serve /metrics on OPERATOR_PORT={settings.operator_port}: {error}"
                ) from None
            logger.info("serving /metrics and /healthz on port %d", settings.operator_port)
        election = asyncio.create_task(runtime.elector.run(term_of(runtime, stopping, failure)), name="leader-election")
        electing.set()
        election.add_done_callback(lambda _: electing.clear())
        stop_requested = asyncio.create_task(stopping.wait(), name="stop requested")
        try:
            await asyncio.wait({election, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (election, stop_requested):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            LEADER.set(0)
        if failure:
            raise OperatorStopped("kopf stopped during the leader's term") from failure[0]


def term_of(
    runtime: OperatorRuntime, stopping: asyncio.Event, failure: list[BaseException]
) -> Callable[[], Coroutine[Any, Any, None]]:
    """What one term of leadership runs: kopf's handlers and the runtime's periodic work, together."""

    async def lead() -> None:
        stop_kopf = asyncio.Event()
        runtime.errors.new_term()
        LEADER.set(1)
        logger.info("starting kopf's handlers for this term")
        handlers = asyncio.create_task(run_kopf(runtime, stop_kopf), name="kopf")
        work = asyncio.create_task(runtime.lead(), name="leader's periodic work")
        try:
            await asyncio.wait({handlers, work}, return_when=asyncio.FIRST_COMPLETED)
            if handlers.done() and not stop_kopf.is_set():
                _kopf_ended(handlers, stopping, failure)
            error = work.exception() if work.done() and not work.cancelled() else None
            if error is not None:
                raise error  # the elector logs it and steps down
        finally:
            LEADER.set(0)
            clear_team_gauges()
            await _end_term(handlers, work, stop_kopf, stopping, runtime.elector.timing.handover_margin)

    return lead


async def run_kopf(runtime: OperatorRuntime, stop: asyncio.Event) -> None:
    """`kopf.operator()`, except that kopf's shutdown cancels only kopf's own tasks.

    kopf assumes the event loop is its own: when it stops, it cancels every task created after it
    started. Here the same loop serves the API (in `ai-implement dev`), the election and the
    periodic work, which must outlive a term, so only tasks running kopf's code are left to it.
    """
    tasks = await kopf.spawn_tasks(
        registry=build_registry(runtime),
        namespaces=[runtime.namespace],
        clusterwide=False,
        standalone=True,
        stop_flag=stop,
    )
    await kopf.run_tasks(tasks, ignored=TasksOutsideKopf())


class TasksOutsideKopf(Collection["asyncio.Task[Any]"]):
    """Every task whose coroutine is not kopf's: what kopf's shutdown must leave alone."""

    _KOPF_CODE: Final = os.path.dirname(kopf.__file__) + os.sep

    def __contains__(self, task: object) -> bool:
        if not isinstance(task, asyncio.Task):
            return True
        code = getattr(task.get_coro(), "cr_code", None)
        return code is None or not code.co_filename.startswith(self._KOPF_CODE)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return (task for task in asyncio.all_tasks() if task in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _kopf_ended(handlers: asyncio.Task[None], stopping: asyncio.Event, failure: list[BaseException]) -> None:
    """kopf returns by itself only on SIGINT/SIGTERM; raising means it broke. Either way the process stops."""
    error = None if handlers.cancelled() else handlers.exception()
    if error is not None:
        logger.error("kopf failed; stopping the operator", exc_info=error)
        failure.append(error)
    else:
        logger.info("kopf stopped on a signal; stopping the operator")
    stopping.set()


async def _end_term(
    handlers: asyncio.Task[None],
    work: asyncio.Task[None],
    stop_kopf: asyncio.Event,
    stopping: asyncio.Event,
    within: float,
) -> None:
    """Stop the periodic work at once, and kopf through its stop flag so handlers in flight finish their step.

    `within` is the Lease's handover margin: past it, another replica may lead, so kopf is cancelled.
    Our own signal handlers come back at once: kopf no longer listens for SIGTERM while it stops.
    """
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    stop_kopf.set()
    _stop_on_signals(stopping)
    _, running = await asyncio.wait({handlers}, timeout=within)  # kopf may end cancelled: no raise
    if running:
        logger.warning("kopf did not stop within %gs; cancelling it", within)
        handlers.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await handlers
    logger.info("kopf's handlers stopped: the term ended")


def _stop_on_signals(stopping: asyncio.Event) -> None:
    """Our own SIGINT/SIGTERM handlers, (re)installed whenever kopf is not running and holding them."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stopping.set)
