"""A clock the test moves by hand, for token expiry, throttling windows and caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = field(default=START)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
