"""Throttling repeated failed logins per client, so the access code cannot be guessed at speed."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

_SWEEP_ABOVE_CLIENTS = 10_000


@dataclass
class FailureThrottle:
    """At most `max_failures` failed attempts per client within `window`; then wait until the oldest expires.

    In memory, per process: with several replicas an attacker gets `max_failures` per replica per
    window, which still makes guessing a reasonable code hopeless.
    """

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def retry_after(self, client: str, now: datetime) -> int | None:
        """Seconds the client must wait before another attempt, or None when it may try now."""
        recent = self._prune(client, now)
        if len(recent) < self.max_failures:
            return None
        return max(1, math.ceil((recent[0] + self.window - now).total_seconds()))

    def record_failure(self, client: str, now: datetime) -> None:
        if len(self._failures) > _SWEEP_ABOVE_CLIENTS:
            for known in list(self._failures):
                self._prune(known, now)
        self._failures.setdefault(client, deque()).append(now)

    def forget(self, client: str) -> None:
        """A successful login clears the client's record."""
        self._failures.pop(client, None)

    def _prune(self, client: str, now: datetime) -> deque[datetime]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] + self.window <= now:
            failures.popleft()
        if not failures:
            self._failures.pop(client, None)
        return failures
