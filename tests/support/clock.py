"""Clocks the tests move by hand, and the rule that keeps them from meeting real servers on a fixed date.

The API server stamps objects (creationTimestamp, Lease renewals) with the real time. A hand-moved
clock that starts on a fixed date works on the day it was written and breaks every day after, when
the controller compares its "now" with the server's. So a clock that may meet the control plane
starts at the real now and only moves by hand from there; the suite checks this after every test
that ran against the control plane (see `far_starts` and the root conftest).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

START_TOLERANCE: Final = timedelta(minutes=5)
"""How far from the real time a clock may start in a test that uses the control plane."""


def real_now() -> datetime:
    """The real time, truncated to the second as the API server's timestamps are."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class ClockStart:
    """Where one hand-moved clock started, what the real time was then, and which line started it."""

    started_at: datetime
    real_time: datetime
    where: str

    @property
    def offset(self) -> timedelta:
        return self.started_at - self.real_time


_starts: list[ClockStart] = []


def record_start(started_at: datetime) -> None:
    """Remember a clock's starting point, with the first caller outside this module and its dataclass code."""
    frames = [frame for frame in traceback.extract_stack()[:-1] if frame.filename not in (__file__, "<string>")]
    caller = frames[-1] if frames else None
    where = f"{caller.filename}:{caller.lineno}" if caller else "unknown"
    _starts.append(ClockStart(started_at, datetime.now(UTC), where))


def forget_starts() -> None:
    _starts.clear()


def far_starts(tolerance: timedelta = START_TOLERANCE) -> list[ClockStart]:
    """The clocks started since `forget_starts` whose start was further than `tolerance` from the real time."""
    return [start for start in _starts if abs(start.offset) > tolerance]


@dataclass
class FakeClock:
    """The controller's clock, at the real now unless told otherwise; `advance` moves it."""

    now: datetime = field(default_factory=real_now)

    def __post_init__(self) -> None:
        record_start(self.now)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
