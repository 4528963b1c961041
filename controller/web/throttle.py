"""Guarding the access code against guessing, without locking the right people out (pure, on a given clock).

Two limits, and neither ever refuses a correct code because of someone else's failures from the
same address (behind an ingress every admin shares one):

- a **global failure budget**, a token bucket: each failed sign-in spends a token, tokens come
  back at a steady rate, and while none is left no code is checked at all (429 with the wait).
  Rotating addresses buys nothing, so this bounds how fast anyone can guess, everywhere;
- a **per-client** count of recent failures (IPv6 clients by their /64, which one host usually
  has whole): past the limit a wrong code is answered 429 rather than 401, and logged.

The client table is bounded: the least recently seen client is forgotten first, in constant time.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MAX_CLIENTS = 10_000


def client_key(address: str) -> str:
    """The bucket a client's failures count in: the address, or for IPv6 its /64 network."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass
class FailureThrottle:
    """The two limits of sign-in: `refusal` before a code is checked, `failed` and `succeeded` after."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    global_budget: int = 30
    """Failed sign-ins allowed in a burst, across all clients."""
    refill: timedelta = timedelta(seconds=10)
    """One more failure is allowed per this much time: 360 guesses an hour at most, from anywhere."""
    max_clients: int = MAX_CLIENTS
    _tokens: float | None = None
    _refilled_at: datetime | None = None
    _failures: OrderedDict[str, deque[datetime]] = field(default_factory=OrderedDict)

    def refusal(self, now: datetime) -> int | None:
        """Seconds until a code may be checked again when the global budget is spent, else None."""
        tokens = self._refill(now)
        if tokens >= 1:
            return None
        return max(1, math.ceil((1 - tokens) * self.refill.total_seconds()))

    def failed(self, client: str, now: datetime) -> int | None:
        """Record a wrong code; the seconds the client should wait when it is past its own limit, else None."""
        self._tokens = max(self._refill(now) - 1, 0.0)
        key = client_key(client)
        recent = self._failures.pop(key, deque())
        while recent and recent[0] + self.window <= now:
            recent.popleft()
        recent.append(now)
        self._failures[key] = recent
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)
        if len(recent) <= self.max_failures:
            return None
        return max(1, math.ceil((recent[-self.max_failures] + self.window - now).total_seconds()))

    def recent_failures(self, client: str, now: datetime) -> int:
        recent = self._failures.get(client_key(client), deque())
        return sum(1 for moment in recent if moment + self.window > now)

    def succeeded(self, client: str) -> None:
        """A correct code clears the client's record (never the global budget)."""
        self._failures.pop(client_key(client), None)

    def _refill(self, now: datetime) -> float:
        if self._tokens is None or self._refilled_at is None:
            self._tokens, self._refilled_at = float(self.global_budget), now
        elapsed = max((now - self._refilled_at).total_seconds(), 0.0)
        self._tokens = min(float(self.global_budget), self._tokens + elapsed / self.refill.total_seconds())
        self._refilled_at = now
        return self._tokens
